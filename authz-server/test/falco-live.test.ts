/**
 * The "live" promise, end to end on real sockets: an alert accepted over HTTP changes the very next Check
 * over gRPC, with a real policy; deny reasons name the alert; access comes back when the alert ages out (short
 * half-life); destination risk and feed freshness work the same way. Also measures the ingest → changed-decision
 * latency on this machine (printed; not asserted as a performance claim).
 */
import { afterEach, describe, expect, it } from "vitest";
import { at, falcoJson, METRICS_SNAPSHOT, SHADOW_READ_IN_PAYMENT, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import {
  ADMIN_TOKEN,
  DATABASE_NEEDS_FRESH_FEED,
  DENY_RISKY_CALLERS,
  falcoNow,
  ID,
  type RiskTestServer,
  startRiskServer,
  until,
} from "./support/risk-server.js";

let server: RiskTestServer;

afterEach(async () => {
  await server?.close();
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe("an accepted alert changes the next decision", () => {
  it("denies the caller on the Check right after the ingest response, naming the alert", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } });
    expect(await server.check(ID.order)).toMatchObject({ allowed: true });
    const time = falcoNow();
    const ingest = await server.post(falcoJson(at(SHELL_IN_ORDER, time)));
    expect(ingest.status).toBe(200);
    const denied = await server.check(ID.order);
    expect(denied.allowed).toBe(false);
    expect(denied.policy).toBe("istio-system/deny-risky-callers");
    expect(denied.reason).toContain(`Falco "Terminal shell in container" (Critical, ${time})`);
    expect(denied.reason).toContain("caller risk critical, highest alert critical");
    // Other workloads are unaffected.
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
    // Health probes are still allowed by the policy.
    expect((await server.check(ID.order, { path: "/healthz" })).allowed).toBe(true);
  });

  it("counts an alert from a Falco whose clock lags (or whose queue backed up) as fresh news, within a minute", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    expect((await server.post(falcoJson(at(SHELL_IN_ORDER, twoHoursAgo)))).body.mapped).toBe(1);
    const denied = await server.check(ID.order);
    expect(denied.allowed).toBe(false);
    // The explanation still gives the time exactly as Falco sent it.
    expect(denied.reason).toContain(`(Critical, ${twoHoursAgo})`);
  });

  it("gives access back once the alert leaves its active window and its score decays (half-life 2 s)", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 2 } });
    await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
    expect((await server.check(ID.order)).allowed).toBe(false);
    // Critical (50) lifts to critical for one half-life; then 25 < high (30): allowed again.
    const back = await until(
      () => server.check(ID.order),
      (v) => v.allowed,
      "access to come back",
      5000,
    );
    expect(back.allowed).toBe(true);
    expect(((await server.risk(`?id=${ID.order}`)).identity as { level: string }).level).toBe("medium");
  });

  it("lets sensitive routes refuse a stale feed and a compromised destination", async () => {
    server = await startRiskServer(
      { risk: { staleAfterSeconds: 2, halfLifeSeconds: 600 } },
      {
        "risk.yaml": DENY_RISKY_CALLERS,
        "database.yaml": DATABASE_NEEDS_FRESH_FEED,
      },
    );
    // A feed that never spoke is stale: the database refuses.
    const silent = await server.check(ID.api, { destination: "database" });
    expect(silent).toMatchObject({ allowed: false, policy: "data/database-needs-fresh-feed" });
    expect(silent.reason).toContain("Falco feed stale");
    await server.post(falcoJson(at(METRICS_SNAPSHOT, falcoNow())));
    expect((await server.check(ID.api, { destination: "database" })).allowed).toBe(true);
    // Silence again for staleAfterSeconds: refused again.
    await until(
      () => server.check(ID.api, { destination: "database" }),
      (v) => !v.allowed,
      "the feed to go stale",
    );
    // A compromised destination: callers are kept away from it.
    const database = at(SHADOW_READ_IN_PAYMENT, falcoNow(), {
      priority: "Critical",
      output_fields: {
        ...SHADOW_READ_IN_PAYMENT.output_fields,
        "container.name": "database",
        "k8s.ns.name": "data",
        "k8s.pod.name": "database-0",
      },
    });
    await server.post(falcoJson(database));
    const toCompromised = await server.check(ID.api, { destination: "database" });
    expect(toCompromised.allowed).toBe(false);
    expect(toCompromised.reason).toContain("destination risk critical, highest alert critical");
  });

  it("measures ingest → changed decision latency", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } });
    const ingestMs: number[] = [];
    const decisionMs: number[] = [];
    // Warm up both paths once.
    await server.check(ID.order);
    await server.post(falcoJson(at(METRICS_SNAPSHOT, falcoNow())));
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const ingest = await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
      const t1 = performance.now();
      const verdict = await server.check(ID.order);
      const t2 = performance.now();
      expect(ingest.status).toBe(200);
      expect(verdict.allowed).toBe(false);
      ingestMs.push(t1 - t0);
      decisionMs.push(t2 - t0);
      const cleared = await fetch(`${server.httpUrl}/v1/risk?id=${ID.order}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(cleared.status).toBe(200);
      expect((await server.check(ID.order)).allowed).toBe(true);
    }
    const fmt = (v: number) => v.toFixed(2);
    console.log(
      `ingest→decision latency over ${decisionMs.length} runs (POST /v1/falco sent → next Check answered, real sockets): ` +
        `p50 ${fmt(percentile(decisionMs, 50))} ms, p95 ${fmt(percentile(decisionMs, 95))} ms, max ${fmt(Math.max(...decisionMs))} ms; ` +
        `ingest response alone p50 ${fmt(percentile(ingestMs, 50))} ms`,
    );
  });
});
