/**
 * Orderings across replicas that a Redis outage (a partition of the replicas from each other) makes certain rather
 * than rare: two real `trustgate serve` replicas, a real redis-server killed and started again empty. Each probe
 * asserts what must hold once the partition heals: a Critical alert one replica took is not erased by an operator's
 * clear made on a replica that never saw it, and an operator's revocation is not undone by a lift made earlier (in real
 * time) on the other side of the partition.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "../../authz-server/test/support/process.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { alertAbout, ID, type Node, redisConnected, startNode, until } from "./support.js";

let redis: RedisProcess;
let dir: string;
let a: Node;
let b: Node;

function replica(name: string): Promise<Node> {
  return startNode(name, dir, {
    redis: { url: redis.url },
    revocations: { file: join(dir, `${name}-revocations.json`) },
  });
}

async function partition(): Promise<void> {
  await redis.stop();
  await until(
    async () => (await redisConnected(a)) || (await redisConnected(b)),
    (v) => !v,
    "both replicas to notice Redis is gone",
  );
}

async function heal(): Promise<void> {
  await redis.start();
  await until(
    async () => (await redisConnected(a)) && (await redisConnected(b)),
    (v) => v,
    "both replicas to reconnect",
    15_000,
  );
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-order-"));
  [a, b] = await Promise.all([replica("a"), replica("b")]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("orderings made certain by a partition from Redis", () => {
  it("a risk clear made on a replica that never saw a Critical alert does not erase it on the replica that took it", async () => {
    expect((await a.check(ID.order)).allowed).toBe(true);
    await partition();
    // Falco reports a shell in order to replica B; B denies at once.
    expect((await b.post(alertAbout("order"))).status).toBe(200);
    expect((await b.check(ID.order)).allowed).toBe(false);
    // Afterwards, an operator on replica A clears order's risk (A knows of no alert about order).
    expect((await a.clear("order")).status).toBe(200);

    await heal();
    // A learns B's alert and denies …
    await until(
      () => a.check(ID.order),
      (v) => !v.allowed,
      "A to learn B's Critical alert",
      10_000,
    );
    // … and B reads A's clear.
    await until(
      async () => b.logs().some((l) => l.event === "risk cleared by another replica"),
      (v) => v,
      "B to apply A's clear",
      10_000,
    );
    const [onA, onB] = [await a.check(ID.order), await b.check(ID.order)];
    // The replicas must agree, and the Critical alert nobody cleared knowingly must still deny.
    expect({ a: onA.allowed, b: onB.allowed }).toEqual({ a: false, b: false });
  }, 40_000);

  it("a revocation made during a partition is not undone by a lift made earlier on the other side", async () => {
    expect((await a.revoke("billing", "incident 7")).status).toBe(200);
    await until(
      () => b.check(ID.billing),
      (v) => !v.allowed,
      "B to deny billing",
    );

    await partition();
    // On B: unrelated operator work, then (10:00) "false alarm": billing's revocation is lifted.
    expect((await b.revoke("cache", "test")).status).toBe(200);
    expect((await b.lift("cache")).status).toBe(200);
    expect((await b.lift("billing")).status).toBe(200);
    expect((await b.check(ID.billing)).allowed).toBe(true);
    // Later (10:05), on A: incident 7 escalates, billing is revoked again (answered 200, written to A's file).
    const again = await a.revoke("billing", "incident 7 escalated");
    expect(again.status).toBe(200);
    expect((await a.check(ID.billing)).allowed).toBe(false);

    await heal();
    // Wait until both hold the same operator revocations (they have exchanged every record); the served lists also
    // carry identities at critical risk, which differ after the probe above.
    await until(
      async () => {
        const [la, lb] = await Promise.all(
          [a, b].map(async (n) => JSON.stringify((await n.admin("GET", "/v1/revocations/operator")).body.revocations)),
        );
        return { la, lb };
      },
      (v) => v.la === v.lb,
      "A and B to hold the same operator revocations",
      10_000,
    );
    const undone = a.logs().find((l) => l.event === "revocation lifted on another replica" && l.subject === ID.billing);
    if (undone !== undefined) console.log("replica A logged:", JSON.stringify(undone));
    // The latest operator word on billing is "revoked": it must still deny, on both replicas.
    const [onA, onB] = [await a.check(ID.billing), await b.check(ID.billing)];
    expect({ a: onA.allowed, b: onB.allowed }).toEqual({ a: false, b: false });
  }, 40_000);
});
