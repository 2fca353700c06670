/**
 * Restarts and the state files, with a real `trustgate serve` (two worker processes where it matters): the revocation
 * file and the risk snapshot after a crash, truncated, not JSON, of another format, in a missing directory, or from the
 * future. Each probe asserts the safe outcome: a restart either refuses to start or still denies what was revoked or
 * at critical risk; it never starts and silently allows; and state from the future cannot pin a workload for a year.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "../../authz-server/test/support/process.js";
import { alertAbout, ID, type Node, startNode } from "./support.js";

let dir: string;

beforeAll(async () => {
  requireBuild();
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-files-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts a node, or returns why it would not start. */
async function tryStart(name: string, config: Record<string, unknown>): Promise<Node | string> {
  try {
    return await startNode(name, dir, config);
  } catch (err) {
    return (err as Error).message;
  }
}

async function withNode<T>(name: string, config: Record<string, unknown>, fn: (n: Node) => Promise<T>): Promise<T> {
  const n = await startNode(name, dir, config);
  try {
    return await fn(n);
  } finally {
    await n.stop();
  }
}

describe("the revocation file", () => {
  it("a revocation answered 200 is in force after the server is killed (SIGKILL) right after the answer", async () => {
    const config = { workers: 2, revocations: { file: join(dir, "kill-revocations.json") } };
    const n = await startNode("kill", dir, config);
    expect((await n.revoke("order")).status).toBe(200);
    await n.stop("SIGKILL");
    await withNode("kill", config, async (again) => {
      expect((await again.check(ID.order)).allowed).toBe(false);
      expect((await again.check(ID.web)).allowed).toBe(true);
    });
  }, 30_000);

  it("truncated, empty, not JSON or of another format: the server refuses to start (never starts allowing)", async () => {
    const file = join(dir, "bad-revocations.json");
    const config = { revocations: { file } };
    await withNode("bad", config, async (n) => {
      expect((await n.revoke("order")).status).toBe(200);
      expect((await n.revoke("billing")).status).toBe(200);
    });
    const good = await readFile(file, "utf8");
    for (const [what, text] of [
      ["truncated", good.slice(0, Math.floor(good.length / 2))],
      ["empty", ""],
      ["not JSON", "\u0000\u0000\u0000"],
      ["another format", JSON.stringify({ format: "trustgate-revocations/2", records: [] })],
      ["records dropped", JSON.stringify({ format: "trustgate-revocations/1" })],
    ] as const) {
      await writeFile(file, text);
      const started = await tryStart("bad", config);
      if (typeof started !== "string") {
        const decided = (await started.check(ID.order)).allowed;
        await started.stop();
        expect.fail(`started with a ${what} revocation file (order allowed: ${decided})`);
      }
      expect(started, what).toMatch(/revocation file/);
    }
  }, 40_000);

  it("a missing directory refuses the start", async () => {
    const started = await tryStart("nodir", { revocations: { file: join(dir, "gone", "revocations.json") } });
    expect(typeof started).toBe("string");
    expect(started).toMatch(/revocations\.file .*does not exist/);
  });

  it("records stamped from the future (a stamp at the bound): later revocations still survive a restart", async () => {
    const file = join(dir, "future-revocations.json");
    const future = Date.now() + 365 * 86_400_000;
    await writeFile(
      file,
      JSON.stringify({
        format: "trustgate-revocations/1",
        savedAt: new Date(future).toISOString(),
        records: [
          {
            kind: "spiffeId",
            subject: ID.cache,
            revoked: true,
            reason: "old incident",
            by: "ops",
            atMs: future,
            expiresAtMs: null,
            seq: 2 ** 40,
            origin: "replica-from-the-future",
          },
        ],
      }),
    );
    const config = { revocations: { file } };
    await withNode("future", config, async (n) => {
      expect((await n.check(ID.cache)).allowed).toBe(false);
      expect((await n.revoke("api", "incident 30")).status).toBe(200);
    });
    const again = await tryStart("future", config);
    if (typeof again === "string")
      expect.fail(`the restart failed: ${again.split("\n").find((l) => l.includes("revocation")) ?? again}`);
    try {
      expect((await again.check(ID.api)).allowed).toBe(false);
      expect((await again.check(ID.cache)).allowed).toBe(false);
    } finally {
      await again.stop();
    }
  }, 30_000);
});

describe("the risk snapshot", () => {
  it("a Critical alert survives a SIGTERM restart with workers: denied from the first Check", async () => {
    const config = { workers: 2, risk: { snapshotFile: join(dir, "term-risk.json") } };
    await withNode("term", config, async (n) => {
      expect((await n.post(alertAbout("order"))).status).toBe(200);
      expect((await n.check(ID.order)).allowed).toBe(false);
    });
    await withNode("term", config, async (n) => {
      expect((await n.check(ID.order)).allowed).toBe(false);
    });
  }, 40_000);

  it("a truncated snapshot is moved aside and the server starts (as documented)", async () => {
    const file = join(dir, "trunc-risk.json");
    await writeFile(file, '{"format":"trustgate-risk-snapshot/1","savedAt":"2026-');
    await withNode("trunc", { risk: { snapshotFile: file } }, async (n) => {
      expect((await n.check(ID.web)).allowed).toBe(true);
    });
    expect((await readdir(dir)).some((f) => f.startsWith("trunc-risk.json.unreadable-"))).toBe(true);
  }, 30_000);

  it("a missing directory refuses the start", async () => {
    const started = await tryStart("snapdir", { risk: { snapshotFile: join(dir, "nowhere", "risk.json") } });
    expect(started).toMatch(/risk\.snapshotFile .*does not exist/);
  });

  it("an alert from a year ahead in the snapshot is held to the bounds of every other event (not restored as is)", async () => {
    const snapDir = join(dir, "snap-future");
    await mkdir(snapDir);
    const file = join(snapDir, "risk.json");
    const future = Date.now() + 365 * 86_400_000;
    const iso = new Date(future).toISOString();
    await writeFile(
      file,
      JSON.stringify({
        format: "trustgate-risk-snapshot/1",
        savedAt: iso,
        state: {
          lastHeardMs: future,
          identities: [
            {
              spiffeId: ID.api,
              residualScore: 0,
              residualAtMs: future,
              alerts: [
                {
                  rule: "Terminal shell in container",
                  priority: "critical",
                  time: iso,
                  eventMs: future,
                  receivedMs: future,
                  lastMs: future,
                  lastTime: iso,
                  lastReceivedMs: future,
                  weight: 50,
                  count: 1,
                  dedupKey: "k",
                },
              ],
            },
          ],
          seen: [],
        },
      }),
    );
    await withNode("snapfuture", { risk: { snapshotFile: file } }, async (n) => {
      const view = (await (await fetch(`${n.httpUrl}/v1/risk?id=${encodeURIComponent(ID.api)}`)).json()) as {
        identity: { level: string; alerts?: Array<{ receivedAt: string }> };
      };
      const ahead = (view.identity.alerts ?? []).filter((a) => Date.parse(a.receivedAt) > Date.now() + 5_000);
      expect({ level: view.identity.level, alertsAhead: ahead.length }).toMatchObject({ alertsAhead: 0 });
    });
  }, 30_000);
});
