/**
 * A Redis outage during a noisy Falco: replica A keeps what it must publish in its outbox until Redis is back
 * ("publishes what it queued"). With many Falco daemons (each a source with its own ingest budget; here one source
 * with a large budget stands in for them) routine Notices fill that outbox. Real `trustgate serve` processes and a
 * real redis-server; the probe asserts that a Critical alert A took at the start of the outage still reaches replica B.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "../../authz-server/test/support/process.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { alertAbout, falcoNow, ID, type Node, redisConnected, startNode, until } from "./support.js";

const NOTICES = 100_500;
const PER_POST = 25_000;
let redis: RedisProcess;
let dir: string;
let a: Node;
let b: Node;

function replica(name: string): Promise<Node> {
  return startNode(name, dir, {
    redis: { url: redis.url },
    falco: { ingest: { ratePerSecond: 1_000_000, burst: 1_000_000, maxBodyBytes: 16 * 1024 * 1024 } },
  });
}

/** A short Notice about api as Falco writes it, one JSON line. */
function notice(): string {
  return JSON.stringify({
    hostname: "node-a",
    output: "noisy",
    output_fields: { "container.name": "api", "k8s.ns.name": "services" },
    priority: "Notice",
    rule: "Noisy rule",
    source: "syscall",
    time: falcoNow(),
  });
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-outbox-"));
  [a, b] = await Promise.all([replica("a"), replica("b")]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the outbox of a replica cut off from Redis", () => {
  it("a Critical alert taken at the start of an outage reaches the other replica after a flood of Notices", async () => {
    await redis.stop();
    await until(
      async () => (await redisConnected(a)) || (await redisConnected(b)),
      (v) => !v,
      "both to notice Redis is gone",
    );
    expect((await a.post(alertAbout("order"))).status).toBe(200);
    expect((await a.check(ID.order)).allowed).toBe(false);
    const line = notice();
    for (let sent = 0; sent < NOTICES; sent += PER_POST) {
      const n = Math.min(PER_POST, NOTICES - sent);
      const r = await a.post(`${line}\n`.repeat(n));
      expect(r.status, r.text.slice(0, 200)).toBe(200);
    }
    await redis.start();
    // A marker taken after the flood: once B has it, B has read everything A queued before it.
    expect((await a.post(alertAbout("billing"))).status).toBe(200);
    await until(
      () => b.check(ID.billing),
      (v) => !v.allowed,
      "B to catch up with A",
      30_000,
    );
    const dropped = await a.metric('trustgate_risk_shared_events_total{direction="dropped"}');
    console.log(`A dropped ${dropped ?? 0} queued events`);
    expect((await b.check(ID.order)).allowed).toBe(false);
  }, 60_000);
});
