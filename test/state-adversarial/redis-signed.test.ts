/**
 * Replicas with `redis.eventKey` (signed events) against whoever else can write to Redis, with real `trustgate serve`
 * processes and a real redis-server: replayed signed events, junk (oversized, malformed, unsigned) in the stream and
 * the revocation hash, and a forged record planted in the hash. Each probe asserts that a genuine revocation taken
 * afterwards still reaches the other replica, and that replays change nothing.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "../../authz-server/test/support/process.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { alertAbout, ID, type Node, startNode, until } from "./support.js";

const STREAM = "trustgate:risk:events";
const HASH = "trustgate:revocations";
const KEY = "state-adversarial-event-key-0123456789";
let redis: RedisProcess;
let client: Redis;
let dir: string;
let config: (name: string, file?: boolean) => Record<string, unknown>;
let a: Node;
let b: Node;
const extra: Node[] = [];

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  client = new Redis(redis.url);
  client.on("error", () => undefined);
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-signed-"));
  const keyFile = join(dir, "event-key");
  await writeFile(keyFile, `${KEY}\n`);
  config = (name, file = true) => ({
    redis: { url: redis.url, eventKeyFile: keyFile },
    ...(file ? { revocations: { file: join(dir, `${name}-revocations.json`) } } : {}),
  });
  [a, b] = await Promise.all([startNode("a", dir, config("a")), startNode("b", dir, config("b"))]);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await Promise.all([a?.stop(), b?.stop(), ...extra.map((n) => n.stop())]);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("signed events against whoever else writes to Redis", () => {
  it("replaying every signed event, newest first, changes no decision", async () => {
    expect((await a.revoke("web", "incident 1")).status).toBe(200);
    expect((await a.lift("web")).status).toBe(200);
    expect((await a.post(alertAbout("cache"))).status).toBe(200);
    await until(
      () => b.check(ID.cache),
      (v) => !v.allowed,
      "B to deny cache",
    );
    expect((await a.clear("cache")).status).toBe(200);
    await until(
      async () => b.logs().some((l) => l.event === "risk cleared by another replica"),
      (v) => v,
      "B to apply the clear",
    );
    expect((await b.check(ID.web)).allowed).toBe(true);
    expect((await b.check(ID.cache)).allowed).toBe(true);
    const entries = (await client.xrange(STREAM, "-", "+")) as Array<[string, string[]]>;
    expect(entries.length).toBeGreaterThanOrEqual(4);
    for (const [, fields] of [...entries].reverse()) await client.xadd(STREAM, "*", ...fields);
    // A marker after the replay: once B has it, B has read the replay.
    expect((await a.post(alertAbout("order"))).status).toBe(200);
    await until(
      () => b.check(ID.order),
      (v) => !v.allowed,
      "B to read past the replay",
    );
    expect((await b.check(ID.web)).allowed).toBe(true);
    expect((await b.check(ID.cache)).allowed).toBe(true);
    expect((await a.check(ID.web)).allowed).toBe(true);
  }, 20_000);

  it("oversized, malformed and unsigned junk in the stream and the hash stops no genuine revocation", async () => {
    const big = "x".repeat(8 * 1024 * 1024);
    await client.xadd(STREAM, "*", "e", big, "s", "AAAA");
    await client.xadd(STREAM, "*", "junk", "1");
    await client.xadd(STREAM, "*", "e", "{not json", "s", "");
    await client.xadd(STREAM, "*", "e", JSON.stringify({ k: "rev", o: "x", rec: { kind: "spiffeId" } }));
    await client.hset(HASH, `id:${ID.database}`, `${big}.${big}`);
    await client.hset(HASH, "junk-field", "{not json");
    expect((await a.revoke("database", "incident 2")).status).toBe(200);
    await until(
      () => b.check(ID.database),
      (v) => !v.allowed,
      "B to deny database",
      3000,
    );
    // A replica started now (no file of its own) reads the hash past the junk.
    const c = await startNode("c", dir, config("c", false));
    extra.push(c);
    expect((await c.check(ID.database)).allowed).toBe(false);
    expect((await a.check(ID.api)).allowed).toBe(true);
  }, 30_000);

  it("a forged, unsigned record with a huge stamp planted in the hash does not stop a signed revocation", async () => {
    // Not believed by any replica (unsigned) …
    const forged = JSON.stringify({
      k: "rev",
      o: "intruder",
      rec: {
        kind: "spiffeId",
        subject: ID.api,
        revoked: false,
        reason: "",
        by: "intruder",
        atMs: Date.now(),
        expiresAtMs: null,
        seq: 2 ** 40,
        origin: "intruder",
      },
    });
    await client.hset(HASH, `id:${ID.api}`, `.${forged}`);
    // … yet afterwards an operator revokes api on A (answered 200).
    expect((await a.revoke("api", "incident 3")).status).toBe(200);
    expect((await a.check(ID.api)).allowed).toBe(false);
    const onB = await until(
      () => b.check(ID.api),
      (v) => !v.allowed,
      "B to deny api",
      3000,
    ).catch((e: Error) => e.message);
    expect(onB).toMatchObject({ allowed: false });
  }, 20_000);
});
