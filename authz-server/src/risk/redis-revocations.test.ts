/**
 * The revocation side of RedisRiskSharing against a real redis-server: the merge script orders revocations and lifts
 * like the in-memory list, writes Redis refuses are retried until taken, a forged value in the hash cannot silence a
 * signed record, and records Redis lost without a restart are pushed back.
 */
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisProcess, startRedis } from "../../../test/support/redis.js";
import type { RevocationRecord } from "../identity/revocation-record.js";
import { parseRevocationRecord, supersedes } from "../identity/revocation-record.js";
import { createLogger } from "../observability/logger.js";
import { EventSigner } from "./event-signing.js";
import { RedisRiskSharing, type RevocationSink } from "./redis-sharing.js";
import { RiskMetrics } from "./risk-metrics.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PREFIX = "t";
const HASH = `${PREFIX}:revocations`;
const KEY = "unit-test-event-key";

let redis: RedisProcess;
let client: Redis;
const started: RedisRiskSharing[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  client.on("error", () => undefined);
}, 30_000);

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
  await client.config("SET", "min-replicas-to-write", "0");
  await client.flushall();
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** A sink that merges like RevocationList (one record per subject, `supersedes`). */
function sink(initial: RevocationRecord[] = []): RevocationSink & { held: Map<string, RevocationRecord> } {
  const held = new Map<string, RevocationRecord>();
  const apply = (r: RevocationRecord) => {
    const current = held.get(r.subject);
    if (current === undefined || supersedes(r, current)) held.set(r.subject, r);
  };
  for (const r of initial) apply(r);
  return {
    held,
    records: () => [...held.values()],
    apply,
    get size() {
      return held.size;
    },
    durable: true,
  };
}

async function sharing(revocations: RevocationSink, key = ""): Promise<RedisRiskSharing> {
  const s = new RedisRiskSharing({
    url: redis.url,
    keyPrefix: PREFIX,
    streamMaxLen: 1000,
    replicaId: "unit",
    apply: () => undefined,
    revocations,
    signer: new EventSigner(key),
    logger: createLogger("error", new Writable({ write: (_c, _e, done) => done() })),
    metrics: new RiskMetrics(new Registry(), {
      levelCounts: () => ({ none: 0, low: 0, medium: 0, high: 0, critical: 0 }),
      feedAgeMs: () => 0,
      feedFresh: () => true,
      redisConnected: null,
    }),
  });
  started.push(s);
  await s.start();
  return s;
}

function record(seq: number, revoked: boolean, extra: Partial<RevocationRecord> = {}): RevocationRecord {
  return {
    kind: "spiffeId",
    subject: ORDER,
    revoked,
    reason: revoked ? "r" : "",
    by: "ops",
    atMs: 1,
    expiresAtMs: null,
    seq,
    origin: "x",
    ...extra,
  };
}

/** The record the hash holds for ORDER. */
async function stored(): Promise<RevocationRecord | null> {
  const sealed = await client.hget(HASH, `id:${ORDER}`);
  if (sealed === null) return null;
  const event = JSON.parse(sealed.slice(sealed.indexOf(".") + 1)) as { rec: unknown };
  const parsed = parseRevocationRecord(event.rec);
  return parsed.ok ? parsed.record : null;
}

async function until(ok: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("revocation records through Redis", () => {
  it("the merge script keeps a revocation the (higher-stamped) lift had not seen, like the list", async () => {
    const s = await sharing(sink());
    const lift = record(9, false, { lifts: 3, origin: "b" });
    const again = record(4, true, { origin: "a", reason: "again" });
    s.publishRevocation(lift);
    await until(async () => (await stored())?.seq === 9);
    s.publishRevocation(again);
    await until(async () => (await stored())?.reason === "again");
    // And the lift, pushed again, does not undo it; an older revocation does not beat the lift it was lifted by.
    s.publishRevocation(lift);
    await new Promise((r) => setTimeout(r, 200));
    expect((await stored())?.reason).toBe("again");
  });

  it("a write Redis refuses (NOREPLICAS) is retried until taken", async () => {
    const s = await sharing(sink());
    await client.config("SET", "min-replicas-to-write", "1");
    s.publishRevocation(record(1, true));
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored()).toBeNull();
    expect(s.pendingRevocationCount).toBe(1);
    await client.config("SET", "min-replicas-to-write", "0");
    await until(async () => (await stored())?.seq === 1);
    await until(async () => s.pendingRevocationCount === 0);
  });

  it("with signing, a forged unsigned value with a huge stamp is overwritten by a signed record", async () => {
    const s = await sharing(sink(), KEY);
    const forged = JSON.stringify({ k: "rev", o: "intruder", rec: record(2 ** 40, false, { origin: "intruder" }) });
    await client.hset(HASH, `id:${ORDER}`, `.${forged}`);
    s.publishRevocation(record(5, true));
    await until(async () => (await stored())?.seq === 5);
    expect((await client.hget(HASH, `id:${ORDER}`))?.startsWith(".")).toBe(false);
  });

  it("records Redis lost without a restart (FLUSHALL) are pushed back", async () => {
    await sharing(sink([record(1, true)]));
    await until(async () => (await stored())?.seq === 1);
    await client.flushall();
    await until(async () => (await stored())?.seq === 1, 5000);
  });
});
