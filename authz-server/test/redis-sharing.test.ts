/**
 * Replicas sharing risk through a real redis-server: an alert accepted by one replica changes the decisions of the
 * others within a second; operator clears and feed heartbeats travel too; when Redis dies each replica keeps its own
 * state, logs, reconnects and catches up; a replica started later catches up from the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisProcess, startRedis } from "../../test/support/redis.js";
import { at, falcoJson, METRICS_SNAPSHOT, SHADOW_READ_IN_PAYMENT, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { ADMIN_TOKEN, falcoNow, ID, type RiskTestServer, startRiskServer, until } from "./support/risk-server.js";

let redis: RedisProcess;
let a: RiskTestServer;
let b: RiskTestServer;
const extra: RiskTestServer[] = [];

function replica(): Promise<RiskTestServer> {
  return startRiskServer({ redis: { url: redis.url }, risk: { halfLifeSeconds: 600 } });
}

/** A Critical alert about the workload whose container is `container`. */
/** A Critical alert about the workload `container` (its container, in its namespace: the static mapping checks it). */
function criticalIn(container: keyof typeof ID): string {
  const namespace = ID[container].split("/")[4];
  return falcoJson(
    at(SHELL_IN_ORDER, falcoNow(), {
      output_fields: {
        ...SHELL_IN_ORDER.output_fields,
        "container.name": container,
        "container.id": `${container}01`,
        "k8s.ns.name": namespace,
        "k8s.pod.name": `${container}-0`,
      },
    }),
  );
}

async function redisConnected(s: RiskTestServer): Promise<number> {
  const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
  return Number(/^trustgate_risk_redis_connected (\d)/m.exec(text)?.[1] ?? "-1");
}

beforeAll(async () => {
  redis = await startRedis();
  a = await replica();
  b = await replica();
});

afterAll(async () => {
  for (const s of [a, b, ...extra]) await s?.close();
  await redis?.stop();
});

describe("risk shared between replicas through Redis", () => {
  it("connects both replicas", async () => {
    expect(await redisConnected(a)).toBe(1);
    expect(await redisConnected(b)).toBe(1);
    expect(a.logs.some((l) => l.event === "risk sharing connected")).toBe(true);
  });

  it("an alert accepted by replica A makes replica B deny within a second", async () => {
    expect((await b.check(ID.order)).allowed).toBe(true);
    const time = falcoNow();
    const started = performance.now();
    expect((await a.post(falcoJson(at(SHELL_IN_ORDER, time)))).status).toBe(200);
    const denied = await until(
      () => b.check(ID.order),
      (v) => !v.allowed,
      "B to deny",
      1000,
    );
    const elapsed = performance.now() - started;
    console.log(`replica A ingest → replica B deny: ${elapsed.toFixed(1)} ms`);
    expect(denied.reason).toContain(`Falco "Terminal shell in container" (Critical, ${time})`);
    // B has the alert once, as A accepted it; A did not count its own echo twice.
    const onB = (await b.risk(`?id=${ID.order}`)).identity as { alerts: Array<{ count: number }> };
    const onA = (await a.risk(`?id=${ID.order}`)).identity as { alerts: Array<{ count: number }> };
    expect(onB.alerts.map((x) => x.count)).toEqual([1]);
    expect(onA.alerts.map((x) => x.count)).toEqual([1]);
    const revocations = (await (await fetch(`${b.httpUrl}/v1/revocations`)).json()) as { spiffeIds: string[] };
    expect(revocations.spiffeIds).toContain(ID.order);
  });

  it("shares the feed heartbeat and operator clears", async () => {
    // Earlier alerts made both feeds fresh already; the snapshot is also shared (nothing else to see there).
    await a.post(falcoJson(at(METRICS_SNAPSHOT, falcoNow())));
    expect(((await b.risk()).feed as { state: string }).state).toBe("fresh");
    const res = await fetch(`${b.httpUrl}/v1/risk?id=${ID.order}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    await until(
      () => a.check(ID.order),
      (v) => v.allowed,
      "A to allow after B's clear",
      1000,
    );
    expect(a.logs.some((l) => l.event === "risk cleared by another replica")).toBe(true);
  });

  it("keeps local state through a Redis outage, logs it, reconnects and catches up both ways", async () => {
    await a.post(criticalIn("cache"));
    await until(
      () => b.check(ID.cache),
      (v) => !v.allowed,
      "B to see cache's alert",
      1000,
    );

    await redis.stop();
    await until(
      async () => (await redisConnected(a)) + (await redisConnected(b)),
      (v) => v === 0,
      "both to notice",
    );
    for (const s of [a, b]) expect(s.logs.some((l) => l.event === "redis connection lost")).toBe(true);

    // Each replica decides on its own state: what it knew stays, what it accepts now counts at once, locally.
    expect((await b.check(ID.cache)).allowed).toBe(false);
    expect((await a.post(criticalIn("billing"))).status).toBe(200);
    expect((await b.post(falcoJson(at(SHADOW_READ_IN_PAYMENT, falcoNow(), { priority: "Critical" })))).status).toBe(
      200,
    );
    expect((await a.check(ID.billing)).allowed).toBe(false);
    expect((await b.check(ID.billing)).allowed).toBe(true);
    expect((await b.check(ID.payment)).allowed).toBe(false);
    expect((await a.check(ID.payment)).allowed).toBe(true);

    await redis.start();
    await until(
      () => b.check(ID.billing),
      (v) => !v.allowed,
      "B to catch up with A's alert",
      10_000,
    );
    await until(
      () => a.check(ID.payment),
      (v) => !v.allowed,
      "A to catch up with B's alert",
      10_000,
    );
    await until(
      async () => (await redisConnected(a)) + (await redisConnected(b)),
      (v) => v === 2,
      "reconnection",
    );
    for (const s of [a, b]) expect(s.logs.some((l) => l.event === "redis reconnected")).toBe(true);
  });

  it("starts without Redis when it is down (after a bounded wait), then connects when it comes up", async () => {
    await redis.stop();
    const started = performance.now();
    const d = await replica();
    extra.push(d);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(d.logs.some((l) => l.event === "redis unavailable at start-up")).toBe(true);
    expect((await d.check(ID.web)).allowed).toBe(true);
    await redis.start();
    await until(
      () => redisConnected(d),
      (v) => v === 1,
      "the late connection",
      10_000,
    );
    // Redis came back empty: what A and B accept from now on reaches D.
    await a.post(criticalIn("api"));
    await until(
      () => d.check(ID.api),
      (v) => !v.allowed,
      "D to see A's alert",
      2000,
    );
  });

  it("a replica started later catches up from the stream before its first Check", async () => {
    const c = await replica();
    extra.push(c);
    // Everything written to the stream since Redis last restarted: A's alert about api.
    expect((await c.check(ID.api)).allowed).toBe(false);
    expect((await c.check(ID.web)).allowed).toBe(true);
  });
});
