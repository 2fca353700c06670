/**
 * Operator revocations across two real `trustgate serve` replicas sharing a real redis-server: a revocation taken by
 * one replica denies on the other within a second; both serve byte-identical lists with the same ETag; revocations
 * survive restarts of both (from Redis, and from each replica's revocation file when Redis comes back empty); a
 * fingerprint revocation is refused where Checks never carry certificates.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisProcess, startRedis } from "../../test/support/redis.js";
import { requireBuild } from "./support/process.js";
import { type Replica, startReplica } from "./support/replica.js";
import { ID, until } from "./support/risk-server.js";

const FP = `sha256:${"c3".repeat(32)}`;
let redis: RedisProcess;
let dir: string;
let a: Replica;
let b: Replica;

function replica(name: "a" | "b"): Promise<Replica> {
  return startReplica(name, dir, {
    redis: { url: redis.url },
    revocations: { file: join(dir, `${name}-revocations.json`) },
  });
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "trustgate-replicas-"));
  [a, b] = await Promise.all([replica("a"), replica("b")]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function sameList(): Promise<{ etag: string; body: string }> {
  const [la, lb] = await Promise.all([a.revocations(), b.revocations()]);
  expect(lb.body).toBe(la.body);
  expect(lb.etag).toBe(la.etag);
  return la;
}

describe("revocations shared by two replicas", () => {
  it("a revocation on replica A denies on replica B within one second", async () => {
    expect((await a.check(ID.order)).allowed).toBe(true);
    expect((await b.check(ID.order)).allowed).toBe(true);
    const before = await sameList();
    const started = performance.now();
    const r = await a.admin("POST", "/v1/revocations", { spiffeId: ID.order, reason: "incident 42", by: "alice" });
    expect(r.status).toBe(200);
    expect(r.body.persisted).toBe(true);
    const denied = await until(
      () => b.check(ID.order),
      (v) => !v.allowed,
      "B to deny the identity A revoked",
      1000,
    );
    console.log(`revocation on A → denied on B: ${(performance.now() - started).toFixed(1)} ms`);
    expect(denied.reason).toBe(`identity rejected: identity ${ID.order} is revoked by an operator: incident 42`);
    expect((await a.check(ID.order)).allowed).toBe(false);

    const after = await sameList();
    expect(after.etag).not.toBe(before.etag);
    expect(JSON.parse(after.body)).toMatchObject({ spiffeIds: [ID.order], fingerprints: [] });
    // A filter polling through a load balancer gets a 304 from either replica for the list it holds.
    expect((await b.revocations(after.etag)).status).toBe(304);
    expect((await a.revocations(after.etag)).status).toBe(304);

    const details = await b.admin("GET", "/v1/revocations/operator");
    expect(details.body.revocations).toEqual([
      expect.objectContaining({ spiffeId: ID.order, reason: "incident 42", by: "alice", expiresAt: null }),
    ]);
  });

  it("refuses a fingerprint revocation (409, with the reason) where Checks carry no certificate; force overrides", async () => {
    const refused = await b.admin("POST", "/v1/revocations", { fingerprint: FP, reason: "key leaked" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/carried the caller's certificate/);
    await b.logged("fingerprint revocation refused");
    const forced = await b.admin("POST", "/v1/revocations", { fingerprint: FP, reason: "key leaked", force: true });
    expect(forced.status).toBe(200);
    await until(
      async () => JSON.parse((await a.revocations()).body) as { fingerprints: string[] },
      (l) => l.fingerprints.includes(FP),
      "A to list B's fingerprint",
      1000,
    );
    await sameList();
  });

  it("a lift on one replica restores the identity on the other, and expiring revocations end by themselves", async () => {
    expect((await b.admin("POST", "/v1/revocations", { spiffeId: ID.web, reason: "drill" })).status).toBe(200);
    await until(
      () => a.check(ID.web),
      (v) => !v.allowed,
      "A to deny web",
      1000,
    );
    const lifted = await a.admin("DELETE", `/v1/revocations?spiffeId=${encodeURIComponent(ID.web)}&by=bob`);
    expect(lifted.status).toBe(200);
    await until(
      () => b.check(ID.web),
      (v) => v.allowed,
      "B to allow web again",
      1000,
    );
    expect((await a.admin("DELETE", `/v1/revocations?spiffeId=${encodeURIComponent(ID.web)}`)).status).toBe(404);

    const r = await a.admin("POST", "/v1/revocations", { spiffeId: ID.cache, reason: "short", ttlSeconds: 1.5 });
    expect(r.status).toBe(200);
    await until(
      () => b.check(ID.cache),
      (v) => !v.allowed,
      "B to deny cache",
      1000,
    );
    await until(
      () => b.check(ID.cache),
      (v) => v.allowed,
      "the revocation to expire on B",
      5000,
    );
    expect((await a.check(ID.cache)).allowed).toBe(true);
    await sameList();
  });

  it("survives restarts of both replicas (Redis still up): denied from the first Check, same list and ETag", async () => {
    const before = await sameList();
    await Promise.all([a.stop(), b.stop()]);
    [a, b] = await Promise.all([replica("a"), replica("b")]);
    expect((await a.check(ID.order)).allowed).toBe(false);
    expect((await b.check(ID.order)).allowed).toBe(false);
    expect((await sameList()).etag).toBe(before.etag);
  });

  it("survives restarts of both when Redis lost everything: from the files, and Redis is filled again", async () => {
    const before = await sameList();
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
    await redis.start(); // empty
    const fileA = JSON.parse(await readFile(join(dir, "a-revocations.json"), "utf8")) as { records: unknown[] };
    expect(fileA.records.length).toBeGreaterThanOrEqual(4);

    a = await replica("a");
    expect((await a.check(ID.order)).allowed).toBe(false);
    expect((await a.revocations()).etag).toBe(before.etag);
    const client = new Redis(redis.url);
    try {
      await until(
        () => client.hlen("trustgate:revocations"),
        (n) => n >= 4,
        "A to push its records into the empty Redis",
      );
    } finally {
      client.disconnect();
    }
    b = await replica("b");
    expect((await b.check(ID.order)).allowed).toBe(false);
    expect((await sameList()).etag).toBe(before.etag);
  });

  it("a replica started with no file of its own gets every revocation from Redis before its first Check", async () => {
    const c = await startReplica("c", dir, { redis: { url: redis.url } });
    try {
      expect((await c.check(ID.order)).allowed).toBe(false);
      const [lc, la] = await Promise.all([c.revocations(), a.revocations()]);
      expect(lc.body).toBe(la.body);
      expect(lc.etag).toBe(la.etag);
      await c.logged("revocations not durable");
    } finally {
      await c.stop();
    }
  });
});
