import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testConfig } from "../../test/support/config.js";
import { createLogger } from "../observability/logger.js";
import { exportEngineState, importEngineState } from "./engine-state.js";
import { MAX_CLOCK_SKEW_MS, MAX_WEIGHT } from "./event-bounds.js";
import { EventSigner } from "./event-signing.js";
import type { RiskAlert } from "./risk-alert.js";
import { RiskEngine } from "./risk-engine.js";
import { resolveRiskSettings } from "./risk-settings.js";
import { decodeEvent, encodeEvent, outOfBounds, type SharedEvent } from "./shared-event.js";
import { SnapshotStore } from "./snapshot-store.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const NOW = Date.parse("2026-11-28T10:00:00Z");

function alert(overrides: Partial<RiskAlert> = {}): RiskAlert {
  return {
    id: `id-${Math.random()}`,
    spiffeId: ORDER,
    rule: "Huge",
    priority: "notice",
    time: "2026-11-28T10:00:00Z",
    eventMs: NOW,
    receivedMs: NOW,
    weight: 4,
    dedupKey: `k-${Math.random()}`,
    ...overrides,
  };
}

describe("scores stay finite", () => {
  it("weights of 1.7e308 never make a score Infinity, nor a snapshot null that the next start discards", async () => {
    const settings = resolveRiskSettings(testConfig({}).risk);
    const engine = new RiskEngine(settings, () => NOW);
    for (let i = 0; i < 300; i++) engine.record(alert({ weight: 1.7e308 }));
    const state = exportEngineState(engine);
    const text = JSON.stringify(state);
    expect(text).not.toMatch(/"(residualScore|weight)":null/);
    for (const e of state.identities[0]!.alerts) expect(e.weight).toBe(MAX_WEIGHT);
    expect(Number.isFinite(state.identities[0]!.residualScore)).toBe(true);

    const dir = await mkdtemp(join(tmpdir(), "trustgate-bounds-"));
    try {
      const store = new SnapshotStore(join(dir, "risk.json"), createLogger("silent"));
      await store.save(state);
      const loaded = await store.load();
      expect(loaded).not.toBeNull();
      const again = new RiskEngine(settings, () => NOW);
      importEngineState(again, loaded!);
      expect(again.assess(ORDER).level).toBe("critical");
      expect(JSON.parse(await readFile(join(dir, "risk.json"), "utf8")).format).toBe("trustgate-risk-snapshot/1");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("an alert and a residual from a year ahead in a snapshot are held to now (not active or undecayed for a year)", () => {
    const settings = resolveRiskSettings(testConfig({}).risk);
    let now = NOW;
    const engine = new RiskEngine(settings, () => now);
    const year = NOW + 365 * 86_400_000;
    const entry = {
      rule: "Terminal shell in container",
      priority: "critical" as const,
      time: new Date(year).toISOString(),
      eventMs: year,
      receivedMs: year,
      lastMs: year,
      lastTime: new Date(year).toISOString(),
      lastReceivedMs: year,
      weight: 50,
      count: 1,
      dedupKey: "k",
    };
    importEngineState(engine, {
      lastHeardMs: null,
      identities: [{ spiffeId: ORDER, residualScore: 500, residualAtMs: year, alerts: [entry] }],
      seen: [],
    });
    const restored = engine.identity(ORDER)!;
    expect(restored.entries[0]).toMatchObject({ receivedMs: NOW, eventMs: NOW, lastMs: NOW, lastReceivedMs: NOW });
    expect(restored.residualAtMs).toBe(NOW);
    expect(engine.assess(ORDER).level).toBe("critical");
    now += settings.activeWindowMs + 20 * settings.halfLifeMs;
    expect(engine.assess(ORDER).level).toBe("low");
    // A clear made here names the restored alert (saved without ids by an older version).
    expect(engine.alertIds(ORDER)).toHaveLength(1);
  });

  it("a saved feed time ahead of the clock does not keep the feed fresh", () => {
    const settings = resolveRiskSettings(testConfig({}).risk);
    let now = NOW;
    const engine = new RiskEngine(settings, () => now);
    importEngineState(engine, { lastHeardMs: NOW + 10 * 365 * 86_400_000, identities: [], seen: [] });
    expect(engine.feed()).toBe("fresh");
    now += settings.staleAfterMs;
    expect(engine.feed()).toBe("stale");
  });
});

describe("events read from Redis are held to ingest's bounds", () => {
  const ok = (e: SharedEvent) => expect(outOfBounds(e, NOW)).toBeNull();
  const bad = (e: SharedEvent, why: RegExp) => expect(outOfBounds(e, NOW)).toMatch(why);

  it("refuses future times, event times outside receipt, and weights out of bounds", () => {
    ok({ kind: "alert", origin: "a", alert: alert() });
    ok({ kind: "alert", origin: "a", alert: alert({ receivedMs: NOW + MAX_CLOCK_SKEW_MS, eventMs: NOW }) });
    const tenYears = NOW + 10 * 365 * 86_400_000;
    bad({ kind: "alert", origin: "a", alert: alert({ receivedMs: tenYears, eventMs: tenYears }) }, /future/);
    bad({ kind: "alert", origin: "a", alert: alert({ eventMs: tenYears }) }, /after receipt/);
    bad({ kind: "alert", origin: "a", alert: alert({ eventMs: NOW - 3_600_000 }) }, /too long before/);
    bad({ kind: "alert", origin: "a", alert: alert({ weight: 1.7e308 }) }, /weight/);
    bad({ kind: "heard", origin: "a", atMs: tenYears }, /future/);
    ok({ kind: "heard", origin: "a", atMs: NOW });
    bad({ kind: "clear", origin: "a", id: "c", spiffeId: ORDER, beforeMs: tenYears, alertIds: [] }, /future/);
  });

  it("an infinite or non-number weight does not even decode", () => {
    const text = encodeEvent({ kind: "alert", origin: "a", alert: alert() }).replace('"w":4', '"w":1e999');
    expect(decodeEvent(text)).toBeNull();
  });
});

describe("EventSigner", () => {
  it("signs and verifies; refuses unsigned and tampered payloads; without a key everything passes", () => {
    const signer = new EventSigner("k3y");
    const payload = '{"k":"heard","o":"a","at":1}';
    const signature = signer.sign(payload);
    expect(signer.verify(payload, signature)).toBe("ok");
    expect(signer.verify(payload, undefined)).toBe("unsigned");
    expect(signer.verify(payload.replace("1", "2"), signature)).toBe("bad_signature");
    expect(signer.verify(payload, new EventSigner("other").sign(payload))).toBe("bad_signature");
    expect(signer.unseal(signer.seal(payload))).toEqual({ payload, verdict: "ok" });
    expect(signer.unseal(`.${payload}`).verdict).toBe("unsigned");
    const open = new EventSigner("");
    expect(open.sign(payload)).toBe("");
    expect(open.verify(payload, undefined)).toBe("ok");
  });
});
