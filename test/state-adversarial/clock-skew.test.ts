/**
 * Replicas whose clocks disagree, sharing a real redis-server: replica B keeps true time, replica F runs 10 s ahead
 * and replica S 11 minutes behind (each a real `trustgate serve` process with its wall clock shifted by a preloaded
 * module, workers included). Revocations are ordered by Lamport stamps "never by a clock" and an alert accepted on any
 * replica should deny "on every replica": each probe asserts that an operator revocation or a Critical alert taken by
 * F or S also denies on B.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "../../authz-server/test/support/process.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { alertAbout, ID, type Node, SKEW_CLOCK, startNode, until } from "./support.js";

let redis: RedisProcess;
let dir: string;
let b: Node;
let fast: Node;
let slow: Node;

function replica(name: string, skewMs: number): Promise<Node> {
  const env: Record<string, string> =
    skewMs === 0 ? {} : { NODE_OPTIONS: `--import=${SKEW_CLOCK}`, SKEW_MS: String(skewMs) };
  return startNode(name, dir, { redis: { url: redis.url } }, env);
}

/** B's answer within `ms`, or the timeout as text. */
function onB(who: keyof typeof ID, ms = 3000) {
  return until(
    () => b.check(ID[who]),
    (v) => !v.allowed,
    `B to deny ${who}`,
    ms,
  ).catch((e: Error) => e.message);
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-skew-"));
  [b, fast, slow] = await Promise.all([replica("b", 0), replica("f", 10_000), replica("s", -11 * 60_000)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([b?.stop(), fast?.stop(), slow?.stop()]);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a replica whose clock runs 10 s ahead", () => {
  it("the skew module really shifts the replicas' clocks (their log times)", () => {
    const started = (n: Node) => Date.parse(String(n.logs().find((l) => l.event === "trustgate serving")?.time));
    // The three were started together.
    expect(started(fast) - started(b)).toBeGreaterThan(8_000);
    expect(started(b) - started(slow)).toBeGreaterThan(10 * 60_000);
  });

  it("its operator revocation denies on the other replica", async () => {
    expect((await fast.revoke("web", "incident 20")).status).toBe(200);
    expect((await fast.check(ID.web)).allowed).toBe(false);
    expect(await onB("web")).toMatchObject({ allowed: false });
  });

  it("a Critical alert it takes denies on the other replica", async () => {
    expect((await fast.post(alertAbout("cache"))).status).toBe(200);
    expect((await fast.check(ID.cache)).allowed).toBe(false);
    expect(await onB("cache")).toMatchObject({ allowed: false });
  });
});

describe("a replica whose clock runs 11 minutes behind", () => {
  it("a Critical alert it takes denies on the other replica", async () => {
    expect((await slow.post(alertAbout("api"))).status).toBe(200);
    expect((await slow.check(ID.api)).allowed).toBe(false);
    const answer = await onB("api");
    const view = (await (await fetch(`${b.httpUrl}/v1/risk?id=${encodeURIComponent(ID.api)}`)).json()) as {
      level?: string;
      highestAlert?: string;
    };
    console.log("B's view of api:", JSON.stringify(view).slice(0, 400));
    expect(answer).toMatchObject({ allowed: false });
  });

  it("its 5-minute revocation denies on the other replica", async () => {
    const r = await slow.admin("POST", "/v1/revocations", {
      spiffeId: ID.database,
      reason: "incident 21",
      ttlSeconds: 300,
    });
    expect(r.status).toBe(200);
    expect((await slow.check(ID.database)).allowed).toBe(false);
    expect(await onB("database")).toMatchObject({ allowed: false });
  });
});
