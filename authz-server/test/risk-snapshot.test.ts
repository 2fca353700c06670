import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/observability/logger.js";
import { SnapshotStore } from "../src/risk/snapshot-store.js";
import { at, falcoJson, METRICS_SNAPSHOT, SHADOW_READ_IN_PAYMENT, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { falcoNow, ID, type RiskTestServer, startRiskServer, until } from "./support/risk-server.js";

let dir: string;
const servers: RiskTestServer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-snapshot-"));
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(config: Record<string, unknown> = {}): Promise<RiskTestServer> {
  const s = await startRiskServer(
    { risk: { snapshotFile: join(dir, "risk.json"), halfLifeSeconds: 600, ...config } },
    undefined,
    dir,
  );
  servers.push(s);
  return s;
}

describe("risk snapshot", () => {
  it("survives a restart: written on shutdown, loaded before the first Check", async () => {
    const a = await start();
    const time = falcoNow();
    await a.post([falcoJson(at(SHELL_IN_ORDER, time)), falcoJson(at(METRICS_SNAPSHOT, falcoNow()))].join("\n"));
    expect((await a.check(ID.order)).allowed).toBe(false);
    await a.close();
    servers.splice(0);

    const saved = JSON.parse(await readFile(join(dir, "risk.json"), "utf8"));
    expect(saved.format).toBe("trustgate-risk-snapshot/1");
    expect(saved.state.identities.map((i: { spiffeId: string }) => i.spiffeId)).toEqual([ID.order]);

    const b = await start();
    const verdict = await b.check(ID.order);
    expect(verdict.allowed).toBe(false);
    expect(verdict.reason).toContain(`Falco "Terminal shell in container" (Critical, ${time})`);
    expect(((await b.risk()).feed as { state: string }).state).toBe("fresh");
    expect(b.logs.some((l) => l.event === "risk snapshot loaded")).toBe(true);
    // The same alert ids are remembered: nothing is counted twice after the restart.
    expect(((await b.risk(`?id=${ID.order}`)).identity as { alerts: unknown[] }).alerts).toHaveLength(1);
  });

  it("is written periodically and atomically (no temporary files left behind)", async () => {
    const a = await start({ snapshotIntervalSeconds: 0.1 });
    await a.post(falcoJson(at(SHADOW_READ_IN_PAYMENT, falcoNow())));
    const saved = await until(
      async () => {
        try {
          return JSON.parse(await readFile(join(dir, "risk.json"), "utf8"));
        } catch {
          return null;
        }
      },
      (v) => v !== null && v.state.identities.length === 1,
      "the periodic snapshot",
    );
    expect(saved.state.identities[0].spiffeId).toBe(ID.payment);
    expect((await readdir(dir)).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("moves an unreadable snapshot aside and starts with empty risk state", async () => {
    await writeFile(join(dir, "risk.json"), '{"format":"trustgate-risk-snapshot/1","state":');
    const a = await start();
    expect((await a.check(ID.order)).allowed).toBe(true);
    expect(a.logs.some((l) => l.event === "risk snapshot unreadable")).toBe(true);
    expect((await readdir(dir)).some((f) => f.startsWith("risk.json.unreadable-"))).toBe(true);
  });

  it("drops alerts too old to matter when loading", async () => {
    const store = new SnapshotStore(join(dir, "risk.json"), createLogger("silent"));
    const longAgo = Date.now() - 30 * 24 * 3600_000;
    await store.save({
      lastHeardMs: longAgo,
      identities: [
        {
          spiffeId: ID.order,
          residualScore: 0,
          residualAtMs: longAgo,
          alerts: [
            {
              rule: "Terminal shell in container",
              priority: "critical",
              time: new Date(longAgo).toISOString(),
              eventMs: longAgo,
              receivedMs: longAgo,
              lastMs: longAgo,
              lastTime: new Date(longAgo).toISOString(),
              lastReceivedMs: longAgo,
              weight: 50,
              count: 1,
              dedupKey: "k",
            },
          ],
        },
      ],
      seen: [["old-id", longAgo + 1000]],
    });
    const a = await start();
    expect((await a.risk()).identities).toEqual([]);
    expect(((await a.risk()).feed as { state: string }).state).toBe("stale");
  });
});
