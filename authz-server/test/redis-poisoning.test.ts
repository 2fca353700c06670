/**
 * What a replica reads from Redis is checked like ingest, on real `trustgate serve` processes and a real
 * redis-server: events written straight into the shared stream with times years ahead, event times outside their
 * receipt or absurd weights are counted and dropped; with `redis.eventKey` only events signed with the replicas' key
 * are believed, alerts and revocations alike.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisProcess, startRedis } from "../../test/support/redis.js";
import { at, falcoJson, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { requireBuild } from "./support/process.js";
import { type Replica, startReplica } from "./support/replica.js";
import { DENY_RISKY_CALLERS, falcoNow, ID, until } from "./support/risk-server.js";

const STREAM = "trustgate:risk:events";
const YEARS = 10 * 365 * 86_400_000;
const KEY = "replicas-only-0123456789abcdef";
let redis: RedisProcess;
let client: Redis;
let dir: string;

function alertEvent(spiffeId: string, overrides: Record<string, unknown> = {}): string {
  const now = Date.now();
  return JSON.stringify({
    k: "alert",
    o: "intruder",
    id: `forged-${Math.random()}`,
    sid: spiffeId,
    r: "Terminal shell in container",
    p: "critical",
    t: new Date(now).toISOString(),
    ev: now,
    rcv: now,
    w: 50,
    dk: `forged-${Math.random()}`,
    ...overrides,
  });
}

const sign = (payload: string, key = KEY) => createHmac("sha256", key).update(payload).digest("base64url");

async function refused(r: Replica, reason: string): Promise<number> {
  return (await r.metric(`trustgate_risk_shared_events_refused_total{reason="${reason}"}`)) ?? 0;
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  client = new Redis(redis.url);
  dir = await mkdtemp(join(tmpdir(), "trustgate-poison-"));
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a replica without an event key: Redis is trusted for shape, not for sanity", () => {
  let r: Replica;
  beforeAll(async () => {
    r = await startReplica("open", dir, { redis: { url: redis.url } }, DENY_RISKY_CALLERS);
  }, 30_000);
  afterAll(async () => {
    await r?.stop();
  });

  it("drops future times, event times outside receipt and absurd weights; applies a sane event", async () => {
    const future = Date.now() + YEARS;
    await client.xadd(STREAM, "*", "e", JSON.stringify({ k: "heard", o: "intruder", at: future }));
    await client.xadd(STREAM, "*", "e", alertEvent(ID.order, { ev: future, rcv: future }));
    await client.xadd(STREAM, "*", "e", alertEvent(ID.order, { ev: future }));
    await client.xadd(STREAM, "*", "e", alertEvent(ID.api, { w: 1.7e308, p: "notice" }));
    await client.xadd(STREAM, "*", "e", "{not json");
    // The control: a sane event from "another replica" is applied, so the ones above were read and refused.
    await client.xadd(STREAM, "*", "e", alertEvent(ID.billing));
    await until(
      () => r.check(ID.billing),
      (v) => !v.allowed,
      "the sane event to be applied",
    );
    expect(await refused(r, "out_of_bounds")).toBe(4);
    expect(await refused(r, "malformed")).toBe(1);
    expect((await r.check(ID.order)).allowed).toBe(true);
    const api = (await (await fetch(`${r.httpUrl}/v1/risk?id=${ID.api}`)).json()) as {
      identity: { alerts: unknown[] };
    };
    expect(api.identity.alerts).toEqual([]);
    // The feed was heard through the sane alert just now, not ten years ahead.
    const feed = ((await (await fetch(`${r.httpUrl}/v1/risk`)).json()) as { feed: { lastHeard: string } }).feed;
    expect(Date.parse(feed.lastHeard)).toBeLessThan(Date.now() + 60_000);
    await r.logged("shared event refused");
  });
});

describe("replicas with redis.eventKey: only signed events are believed", () => {
  let r: Replica;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    await client.flushall();
    const keyFile = join(dir, "event-key");
    await writeFile(keyFile, `${KEY}\n`);
    config = { redis: { url: redis.url, eventKeyFile: keyFile } };
    r = await startReplica("signed", dir, config, DENY_RISKY_CALLERS);
  }, 30_000);
  afterAll(async () => {
    await r?.stop();
  });

  it("drops unsigned and badly signed alerts, applies one signed with the key", async () => {
    const unsigned = alertEvent(ID.order);
    await client.xadd(STREAM, "*", "e", unsigned);
    const wrong = alertEvent(ID.order);
    await client.xadd(STREAM, "*", "e", wrong, "s", sign(wrong, "guessed-key"));
    const tampered = alertEvent(ID.order);
    await client.xadd(STREAM, "*", "e", tampered.replace('"w":50', '"w":51'), "s", sign(tampered));
    const good = alertEvent(ID.cache);
    await client.xadd(STREAM, "*", "e", good, "s", sign(good));
    await until(
      () => r.check(ID.cache),
      (v) => !v.allowed,
      "the signed event to be applied",
    );
    expect(await refused(r, "unsigned")).toBe(1);
    expect(await refused(r, "bad_signature")).toBe(2);
    expect((await r.check(ID.order)).allowed).toBe(true);
  });

  it("does not believe a revocation forged into the shared hash, live or at the next start", async () => {
    const payload = JSON.stringify({
      k: "rev",
      o: "intruder",
      rec: {
        kind: "spiffeId",
        subject: ID.web,
        revoked: true,
        reason: "forged",
        by: "intruder",
        atMs: Date.now(),
        expiresAtMs: null,
        seq: 1_000,
        origin: "intruder",
      },
    });
    await client.hset("trustgate:revocations", `id:${ID.web}`, `.${payload}`);
    await client.xadd(STREAM, "*", "e", payload);
    await until(
      () => refused(r, "unsigned"),
      (n) => n >= 2,
      "the notification to be refused",
    );
    expect((await r.check(ID.web)).allowed).toBe(true);
    const restarted = await startReplica("signed-again", dir, config, DENY_RISKY_CALLERS);
    try {
      expect((await restarted.check(ID.web)).allowed).toBe(true);
      expect(JSON.parse((await restarted.revocations()).body).spiffeIds).toEqual([ID.cache]);
      expect(await refused(restarted, "unsigned")).toBeGreaterThanOrEqual(1);
    } finally {
      await restarted.stop();
    }
  });
});

describe("the bound holds both ways", () => {
  it("an alert weighed beyond the bound by configuration is shared at the bound, and the other replica applies it", async () => {
    await client.flushall();
    const config = {
      redis: { url: redis.url },
      risk: { tagWeights: { shell: 1_000_000 }, sourceWeights: { syscall: 10 } },
    };
    const [a, b] = await Promise.all([
      startReplica("heavy-a", dir, config, DENY_RISKY_CALLERS),
      startReplica("heavy-b", dir, config, DENY_RISKY_CALLERS),
    ]);
    try {
      expect(await a.postAlerts(falcoJson(at(SHELL_IN_ORDER, falcoNow())))).toBe(200);
      await until(
        () => b.check(ID.order),
        (v) => !v.allowed,
        "B to apply A's heavy alert",
        2000,
      );
      expect(await refused(b, "out_of_bounds")).toBe(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
