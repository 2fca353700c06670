/**
 * A flood of low-priority alerts cannot hide a Critical one: a real `trustgate serve` with a small ingest budget
 * (50/s, burst 100), eight clients posting Notice alerts over real HTTP at ten times that rate, and in the middle of
 * it Falco's Critical "Terminal shell in container": accepted, and the next Check of that identity is denied.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, falcoJson, SHADOW_READ_IN_PAYMENT, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { requireBuild } from "./support/process.js";
import { type Replica, startReplica } from "./support/replica.js";
import { DENY_RISKY_CALLERS, FALCO_TOKEN, falcoNow, ID } from "./support/risk-server.js";

const RATE = 50;
const CLIENTS = 8;
const BATCH = 5;
let dir: string;
let server: Replica;

beforeAll(async () => {
  requireBuild();
  dir = await mkdtemp(join(tmpdir(), "trustgate-flood-"));
  server = await startReplica(
    "flood",
    dir,
    { falco: { token: FALCO_TOKEN, ingest: { ratePerSecond: RATE, burst: 100 } } },
    DENY_RISKY_CALLERS,
  );
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("ingest under a flood of Notice alerts", () => {
  it("accepts a Critical alert at once and denies its identity on the next Check", async () => {
    const counts = { sent: 0, requests: 0, accepted: 0, limited: 0 };
    let flooding = true;
    const started = performance.now();
    // Each client aims at RATE × 10 / CLIENTS alerts a second, in JSON Lines batches of BATCH (Falcosidekick-like).
    const interval = (1000 * BATCH) / ((RATE * 10) / CLIENTS);
    const client = async () => {
      let next = performance.now();
      while (flooding) {
        const notice = falcoJson(at(SHADOW_READ_IN_PAYMENT, falcoNow(), { priority: "Notice", rule: "Noisy rule" }));
        const status = await server.postAlerts(Array(BATCH).fill(notice).join("\n"));
        counts.sent += BATCH;
        counts.requests += 1;
        if (status === 200) counts.accepted += BATCH;
        else if (status === 429) counts.limited += 1;
        else throw new Error(`unexpected status ${status}`);
        next += interval;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await new Promise((r) => setTimeout(r, 1500));
    expect(counts.limited).toBeGreaterThan(0); // the routine budget is exhausted by now

    const critical = falcoJson(at(SHELL_IN_ORDER, falcoNow()));
    const posted = performance.now();
    expect(await server.postAlerts(critical)).toBe(200);
    const check = await server.check(ID.order);
    const toDeny = performance.now() - posted;
    await new Promise((r) => setTimeout(r, 500));
    flooding = false;
    await Promise.all(clients);
    const seconds = (performance.now() - started) / 1000;

    console.log(
      `flood: ${counts.sent} Notice alerts in ${counts.requests} requests in ${seconds.toFixed(1)} s ` +
        `(${(counts.sent / seconds).toFixed(0)}/s against ${RATE}/s), ${counts.limited} requests refused with 429; ` +
        `Critical accepted, Check denied ${toDeny.toFixed(1)} ms after it was posted`,
    );
    expect(check.allowed).toBe(false);
    expect(check.reason).toContain('Falco "Terminal shell in container" (Critical');
    expect(toDeny).toBeLessThan(1000);
    // The flood really was several times the configured rate, and the limit held it back.
    expect(counts.sent / seconds).toBeGreaterThan(RATE * 3);
    expect(counts.accepted).toBeLessThan(counts.sent / 2);
    expect(await server.metric('trustgate_falco_ingest_rejections_total{reason="rate_limited"}')).toBe(counts.limited);
  });
});
