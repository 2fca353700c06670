/**
 * `trustgate serve --workers 2` as a real process tree: the primary keeps the state, the workers answer Checks with
 * what it pushes. Each probe asserts that a worker never answers with less than the primary knows: a worker killed
 * and replaced serves its first Check with the current risk, revocations, clears and policy set, including changes
 * made while it was starting; a worker that is stopped (slow to acknowledge) neither holds the operator's answer for
 * long nor answers a Check sent after that answer without the change.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import type { ServeProcess } from "../../authz-server/test/support/process.js";
import { requireBuild } from "../../authz-server/test/support/process.js";
import {
  ADMIN_TOKEN,
  alertAbout,
  call,
  clientsByWorker,
  denyPaths,
  eventually,
  readyz,
  startWorkers,
  type WorkerSetup,
  workerSetup,
  workloadId,
} from "../../authz-server/test/support/workers.js";

let setup: WorkerSetup;
let serve: ServeProcess;
const clients: CheckClient[] = [];

const allowed = (r: Awaited<ReturnType<CheckClient["check"]>>) => r.status.code === 0;

async function admin(method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${serve.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  return res.status;
}

const revoke = (i: number) => admin("POST", "/v1/revocations", { spiffeId: workloadId(i), reason: "probe" });

async function reload(...paths: string[]): Promise<void> {
  await writeFile(join(setup.policyDir, "gate.yaml"), denyPaths(...paths));
  serve.child.kill("SIGHUP");
}

/** Waits until every worker serves, on the primary's policy set version. */
async function allOnPrimaryVersion(restarts: number): Promise<string> {
  return eventually(
    async () => {
      const r = await readyz(serve);
      const version = r.policySet?.version;
      const ok =
        r.workers.restarts >= restarts &&
        r.workers.serving === 2 &&
        r.workers.workers.every((w) => w.state === "serving" && w.policyVersion === version);
      return ok ? version : undefined;
    },
    "every worker serving on the primary's policy set",
    15_000,
  );
}

beforeAll(async () => {
  requireBuild();
  setup = await workerSetup();
  serve = await startWorkers(setup, 2);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await serve?.stop();
});

describe("a worker killed and replaced", () => {
  it("serves its first Checks with every risk change, revocation, clear and policy reload, also those made while it started", async () => {
    // State before the crash.
    await alertAbout(serve, 1);
    expect(await revoke(2)).toBe(200);
    await alertAbout(serve, 3);
    expect(await admin("DELETE", `/v1/risk?id=${encodeURIComponent(workloadId(3))}`)).toBe(200);
    const before = (await readyz(serve)).policySet!.version;
    await reload("/blocked", "/newly-blocked");
    await eventually(async () => ((await readyz(serve)).policySet!.version !== before ? true : undefined), "reload");
    await allOnPrimaryVersion(0);

    const victim = (await readyz(serve)).workers.workers[0]!;
    process.kill(victim.pid, "SIGKILL");
    // While the replacement starts (forked, saying hello, compiling, not yet serving): keep changing state.
    const during: number[] = [];
    let reloaded = false;
    let whileStarting = 0;
    for (let i = 10; i < 60; i++) {
      if (i % 2 === 0) await alertAbout(serve, i);
      else expect(await revoke(i)).toBe(200);
      during.push(i);
      if (!reloaded && i >= 12) {
        await reload("/blocked", "/newly-blocked", "/later-blocked");
        reloaded = true;
      }
      const r = await readyz(serve);
      if (r.workers.workers.some((w) => w.state === "starting")) whileStarting += 1;
      if (r.workers.restarts >= 1 && r.workers.serving === 2 && i >= 14) break;
    }
    // The window was hit: changes were made while the replacement was starting.
    expect(whileStarting).toBeGreaterThan(0);
    const version = await allOnPrimaryVersion(1);
    expect(version).not.toBe(before);

    // The replacement holds the fewest connections: new connections reach it.
    const byWorker = await clientsByWorker(serve, 2);
    for (const list of byWorker.values()) clients.push(...list);
    const newest = Math.max(...byWorker.keys());
    expect(newest).toBeGreaterThan(victim.id);
    const c = byWorker.get(newest)![0]!;
    const decided = async (i: number, path?: string) => allowed(await c.check(call(workloadId(i), path)));
    const seen = {
      criticalBefore: await decided(1),
      revokedBefore: await decided(2),
      clearedBefore: await decided(3),
      newlyBlocked: await decided(0, "/newly-blocked"),
      laterBlocked: await decided(0, "/later-blocked"),
      plain: await decided(0),
      during: await Promise.all(during.map((i) => decided(i))),
    };
    expect(seen).toEqual({
      criticalBefore: false,
      revokedBefore: false,
      clearedBefore: true,
      newlyBlocked: false,
      laterBlocked: false,
      plain: true,
      during: during.map(() => false),
    });
  }, 60_000);
});

describe("a worker that is slow to acknowledge (stopped)", () => {
  it("does not hold the ingest answer for long, and a Check sent to it after the answer is decided with the alert", async () => {
    const byWorker = await clientsByWorker(serve, 2);
    for (const list of byWorker.values()) clients.push(...list);
    const workers = (await readyz(serve)).workers.workers;
    const [first, second] = [...byWorker.keys()];
    const stopped = workers.find((w) => w.id === first)!;
    process.kill(stopped.pid, "SIGSTOP");
    let answerMs = 0;
    let pending: Promise<Awaited<ReturnType<CheckClient["check"]>>>;
    try {
      const started = Date.now();
      await alertAbout(serve, 70);
      answerMs = Date.now() - started;
      pending = byWorker.get(first!)![0]!.check(call(workloadId(70)));
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.kill(stopped.pid, "SIGCONT");
    }
    const onStopped = await pending;
    const onOther = await byWorker.get(second!)![0]!.check(call(workloadId(70)));
    expect({ answerMs: answerMs < 2000, stopped: allowed(onStopped), other: allowed(onOther) }).toEqual({
      answerMs: true,
      stopped: false,
      other: false,
    });
  }, 30_000);
});
