import { describe, expect, it } from "vitest";
import { testConfig } from "../../test/support/config.js";
import { IdentityNames } from "../identity/identity-names.js";
import type { FalcoPriority } from "../model/risk-view.js";
import { exportEngineState, importEngineState } from "./engine-state.js";
import type { RiskAlert } from "./risk-alert.js";
import { RiskEngine } from "./risk-engine.js";
import { identityReport } from "./risk-report.js";
import { resolveRiskSettings } from "./risk-settings.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";
const T0 = Date.parse("2026-11-28T10:00:00Z");
const HALF_LIFE = 60_000;

class Clock {
  constructor(public ms = T0) {}
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function engine(risk: Record<string, unknown> = {}, clock = new Clock()) {
  const settings = resolveRiskSettings(testConfig({ risk: { halfLifeSeconds: 60, ...risk } }).risk);
  return { engine: new RiskEngine(settings, clock.now), clock, settings };
}

let seq = 0;
function alert(
  e: RiskEngine,
  clock: Clock,
  priority: FalcoPriority,
  options: Partial<RiskAlert> & { weight?: number } = {},
): RiskAlert {
  seq += 1;
  const eventMs = options.eventMs ?? clock.ms;
  return {
    id: options.id ?? `a${seq}`,
    spiffeId: options.spiffeId ?? ORDER,
    rule: options.rule ?? `Rule ${seq}`,
    priority,
    time: options.time ?? new Date(eventMs).toISOString().replace("Z", "123456Z"),
    eventMs,
    receivedMs: options.receivedMs ?? clock.ms,
    weight: options.weight ?? e.settings.weights[priority],
    dedupKey: options.dedupKey ?? `k${seq}`,
  };
}

describe("RiskEngine: trust-domain aliases", () => {
  it("keeps a workload's risk under one name, whichever name the alert or the caller uses", () => {
    const settings = resolveRiskSettings(testConfig({ risk: { halfLifeSeconds: 60 } }).risk);
    const clock = new Clock();
    const e = new RiskEngine(settings, clock.now, new IdentityNames("cluster.local", ["old.local"]));
    const alias = "spiffe://old.local/ns/services/sa/order";
    expect(e.record(alert(e, clock, "critical", { spiffeId: alias }))).toBe("added");
    expect(e.assess(ORDER).level).toBe("critical");
    expect(e.assess(alias).level).toBe("critical");
    expect(e.criticalIdentities()).toEqual([ORDER]);
    expect(e.clear(alias, e.alertIds(alias), "clear-1", clock.ms)).toBe(1);
    expect(e.assess(ORDER).level).toBe("low");
  });
});

describe("RiskEngine: levels, decay and lift", () => {
  it("rates a workload without alerts (and the empty identity) low with no alert", () => {
    const { engine: e } = engine();
    expect(e.assess(ORDER)).toEqual({ level: "low", highestAlert: "none", explanation: "" });
    expect(e.assess("")).toEqual({ level: "low", highestAlert: "none", explanation: "" });
  });

  it("makes one Warning medium for about a half-life, then low again", () => {
    const { engine: e, clock } = engine();
    const a = alert(e, clock, "warning", { rule: "Read sensitive file untrusted", time: "2026-11-28T10:00:00.5Z" });
    expect(e.record(a)).toBe("added");
    expect(e.assess(ORDER)).toEqual({
      level: "medium",
      highestAlert: "warning",
      explanation: 'Falco "Read sensitive file untrusted" (Warning, 2026-11-28T10:00:00.5Z)',
    });
    clock.advance(HALF_LIFE - 1);
    expect(e.assess(ORDER).level).toBe("medium");
    clock.advance(2);
    // Score 10 decayed below 5, and the alert left its active window (one half-life).
    expect(e.assess(ORDER)).toEqual({ level: "low", highestAlert: "none", explanation: "" });
  });

  it("makes two Errors high, and decays through medium to low", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "error"));
    expect(e.assess(ORDER).level).toBe("medium");
    e.record(alert(e, clock, "error"));
    expect(e.assess(ORDER)).toMatchObject({ level: "high", highestAlert: "error" });
    clock.advance(HALF_LIFE * Math.log2(40 / 30) - 10);
    expect(e.assess(ORDER).level).toBe("high");
    clock.advance(20);
    expect(e.assess(ORDER).level).toBe("medium");
    clock.advance(HALF_LIFE * 3);
    expect(e.assess(ORDER).level).toBe("low");
  });

  it("reaches critical by score alone with ten Warnings", () => {
    const { engine: e, clock } = engine();
    for (let i = 0; i < 9; i++) e.record(alert(e, clock, "warning"));
    expect(e.assess(ORDER).level).toBe("high");
    e.record(alert(e, clock, "warning"));
    expect(e.assess(ORDER)).toMatchObject({ level: "critical", highestAlert: "warning" });
  });

  for (const priority of ["emergency", "alert", "critical"] as const) {
    it(`lifts to critical at once on one ${priority} alert, while it is active`, () => {
      const { engine: e, clock } = engine({ weights: { [priority]: 1 } });
      e.record(
        alert(e, clock, priority, { rule: "Terminal shell in container", time: "2026-11-28T10:00:00.123456789Z" }),
      );
      const spelled = priority[0]!.toUpperCase() + priority.slice(1);
      expect(e.assess(ORDER)).toEqual({
        level: "critical",
        highestAlert: priority,
        explanation: `Falco "Terminal shell in container" (${spelled}, 2026-11-28T10:00:00.123456789Z)`,
      });
      expect(e.criticalIdentities()).toEqual([ORDER]);
      clock.advance(HALF_LIFE);
      // Out of the active window: only its (tiny) decayed score is left.
      expect(e.assess(ORDER)).toEqual({ level: "low", highestAlert: "none", explanation: "" });
      expect(e.criticalIdentities()).toEqual([]);
    });
  }

  it("does not lift on Error, however many", () => {
    const { engine: e, clock } = engine({ thresholds: { critical: 1000 } });
    for (let i = 0; i < 20; i++) e.record(alert(e, clock, "error"));
    expect(e.assess(ORDER)).toMatchObject({ level: "high", highestAlert: "error" });
  });

  it("honours configured thresholds and a separate active window", () => {
    const { engine: e, clock } = engine({ thresholds: { medium: 1, high: 3, critical: 8 }, activeWindowSeconds: 10 });
    e.record(alert(e, clock, "notice")); // 4
    expect(e.assess(ORDER)).toMatchObject({ level: "high", highestAlert: "notice" });
    clock.advance(10_000);
    expect(e.assess(ORDER)).toMatchObject({ level: "high", highestAlert: "none" });
    expect(e.assess(ORDER).explanation).toMatch(/^Falco "Rule \d+" \(Notice, /);
  });

  it("names the most severe active alert as highest, and the lifting alert as explanation", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "warning", { rule: "W" }));
    clock.advance(1000);
    e.record(alert(e, clock, "critical", { rule: "C", time: "2026-11-28T10:00:01Z" }));
    e.record(alert(e, clock, "notice", { rule: "N" }));
    expect(e.assess(ORDER)).toEqual({
      level: "critical",
      highestAlert: "critical",
      explanation: 'Falco "C" (Critical, 2026-11-28T10:00:01Z)',
    });
  });

  it("names the largest contributor when the score sets the level", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "error", { rule: "Old error", weight: 30 }));
    clock.advance(HALF_LIFE / 2);
    e.record(alert(e, clock, "warning", { rule: "New warning", weight: 10 }));
    expect(e.assess(ORDER)).toMatchObject({ level: "high", highestAlert: "error" });
    expect(e.assess(ORDER).explanation).toContain('"Old error"');
  });

  it("keeps identities apart and answers destination lookups the same way", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "critical", { spiffeId: PAYMENT }));
    expect(e.assess(PAYMENT).level).toBe("critical");
    expect(e.assess(ORDER).level).toBe("low");
  });

  it("measures age from the event time, but never from a time after receipt", () => {
    const { engine: e, clock } = engine();
    // An alert that happened one half-life ago weighs half.
    e.record(alert(e, clock, "error", { eventMs: clock.ms - HALF_LIFE }));
    expect(identityReport(e, ORDER).score).toBeCloseTo(10, 3);
    expect(identityReport(e, ORDER).activeAlerts).toHaveLength(0);
  });

  it("drops alerts too old to matter, and alerts weighted zero", () => {
    const { engine: e, clock, settings } = engine();
    expect(e.record(alert(e, clock, "emergency", { eventMs: clock.ms - settings.forgetAfterMs - 1 }))).toBe("expired");
    expect(e.record(alert(e, clock, "debug"))).toBe("ignored");
    expect(e.record(alert(e, clock, "critical", { weight: 0 }))).toBe("ignored");
    expect(e.assess(ORDER)).toEqual({ level: "low", highestAlert: "none", explanation: "" });
    expect(e.identityCount).toBe(0);
  });
});

describe("RiskEngine: the assessment cache", () => {
  it("returns the same cached object until something can change, and recomputes after a new alert", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "warning"));
    const first = e.assess(ORDER);
    clock.advance(1000);
    expect(e.assess(ORDER)).toBe(first);
    e.record(alert(e, clock, "error"));
    const second = e.assess(ORDER);
    expect(second).not.toBe(first);
    expect(second).toMatchObject({ level: "medium", highestAlert: "error" });
  });

  it("recomputes when the clock goes backwards", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "warning"));
    const first = e.assess(ORDER);
    clock.advance(-10);
    expect(e.assess(ORDER)).not.toBe(first);
  });
});

describe("RiskEngine: repeats and duplicates", () => {
  it("coalesces repeats of one alert within the dedup window, but keeps it active while it repeats", () => {
    const { engine: e, clock } = engine({ dedupWindowSeconds: 10 });
    const key = "Terminal shell\0node-1\0abc123";
    expect(e.record(alert(e, clock, "warning", { dedupKey: key }))).toBe("added");
    for (let i = 0; i < 50; i++) {
      clock.advance(100);
      expect(e.record(alert(e, clock, "warning", { dedupKey: key }))).toBe("coalesced");
    }
    const v = identityReport(e, ORDER);
    expect(v.alerts).toHaveLength(1);
    expect(v.alerts![0]).toMatchObject({ count: 51, weight: 10 });
    expect(v.score).toBeLessThan(10.01);
  });

  it("lets a sustained attack keep raising risk: repeats beyond the window add again", () => {
    const { engine: e, clock } = engine({ dedupWindowSeconds: 5 });
    const key = "Read sensitive file\0node-1\0abc123";
    for (let i = 0; i < 12; i++) {
      e.record(alert(e, clock, "warning", { dedupKey: key }));
      clock.advance(5_000);
    }
    expect(identityReport(e, ORDER).alerts).toHaveLength(12);
    expect(e.assess(ORDER).level).toBe("high");
  });

  it("applies an alert id once (replica echo, replay)", () => {
    const { engine: e, clock } = engine();
    const a = alert(e, clock, "error", { id: "falcosidekick:1" });
    expect(e.record(a)).toBe("added");
    expect(e.record({ ...a })).toBe("duplicate");
    expect(identityReport(e, ORDER).score).toBeCloseTo(20, 6);
  });
});

describe("RiskEngine: operator clear, feed, capacity, state", () => {
  it("clears the alerts a clear names, once per clear id", () => {
    const { engine: e, clock } = engine();
    e.record(alert(e, clock, "critical"));
    expect(e.assess(ORDER).level).toBe("critical");
    const named = e.alertIds(ORDER);
    expect(e.clear(ORDER, named, "clear-1", clock.ms)).toBe(1);
    expect(e.assess(ORDER)).toEqual({ level: "low", highestAlert: "none", explanation: "" });
    clock.advance(10);
    e.record(alert(e, clock, "warning"));
    // The same clear arriving again (from another replica) does not remove the newer alert.
    expect(e.clear(ORDER, named, "clear-1", clock.ms)).toBe(0);
    // Another clear naming only the old alert does not remove the newer one either.
    expect(e.clear(ORDER, named, "clear-2", clock.ms)).toBe(0);
    expect(e.assess(ORDER).level).toBe("medium");
  });

  it("a clear from a replica that never saw an alert does not erase it, whatever the clocks say", () => {
    // Replica B took a Critical alert; replica A (cut off, or its clock ahead) cleared the workload knowing nothing.
    const { engine: b, clock } = engine();
    b.record(alert(b, clock, "critical", { id: "falco:b1" }));
    expect(b.clear(ORDER, [], "clear-from-a", clock.ms + 3_600_000)).toBe(0);
    expect(b.assess(ORDER).level).toBe("critical");
  });

  it("remembers the alerts a clear named: a late copy of one is a duplicate, not back", () => {
    const { engine: b, clock } = engine();
    const late = alert(b, clock, "critical", { id: "falco:c1" });
    expect(b.clear(ORDER, ["falco:c1"], "clear-1", clock.ms)).toBe(0);
    expect(b.record(late)).toBe("duplicate");
    expect(b.assess(ORDER).level).toBe("low");
  });

  it("a coalesced alert keeps the repeats a clear did not name", () => {
    const { engine: b, clock } = engine();
    b.record(alert(b, clock, "critical", { id: "r1", dedupKey: "shell" }));
    clock.advance(1_000);
    b.record(alert(b, clock, "critical", { id: "r2", dedupKey: "shell" }));
    expect(b.identity(ORDER)?.entries).toHaveLength(1);
    // The clearing replica only knew r1.
    expect(b.clear(ORDER, ["r1"], "clear-1", clock.ms)).toBe(1);
    expect(b.assess(ORDER).level).toBe("critical");
    expect(b.clear(ORDER, ["r2"], "clear-2", clock.ms)).toBe(1);
    expect(b.assess(ORDER).level).toBe("low");
  });

  it("reports the feed stale before it ever spoke, fresh after, stale after staleAfterSeconds of silence", () => {
    const { engine: e, clock } = engine({ staleAfterSeconds: 30 });
    expect(e.feed()).toBe("stale");
    e.heard(clock.ms);
    expect(e.feed()).toBe("fresh");
    clock.advance(29_999);
    expect(e.feed()).toBe("fresh");
    clock.advance(1);
    expect(e.feed()).toBe("stale");
    e.heard(clock.ms - 100_000); // an old heartbeat never moves the clock back
    expect(e.feed()).toBe("stale");
  });

  it("caps identities: evicts the least risky workload without active alerts, or refuses the newcomer", () => {
    const { engine: e, clock } = engine({ maxIdentities: 2 });
    e.record(alert(e, clock, "notice", { spiffeId: "spiffe://cluster.local/ns/a/sa/a" }));
    e.record(alert(e, clock, "warning", { spiffeId: "spiffe://cluster.local/ns/b/sa/b" }));
    expect(e.record(alert(e, clock, "error", { spiffeId: PAYMENT }))).toBe("capacity");
    clock.advance(HALF_LIFE + 1);
    expect(e.record(alert(e, clock, "error", { spiffeId: PAYMENT }))).toBe("added");
    expect(e.identityCount).toBe(2);
    expect(identityReport(e, "spiffe://cluster.local/ns/a/sa/a").retainedAlerts).toBe(0);
  });

  it("caps alerts per identity by folding the oldest into a residual score without changing it", () => {
    const { engine: e, clock } = engine({ thresholds: { critical: 1e9, high: 1e8 } });
    for (let i = 0; i < 300; i++) e.record(alert(e, clock, "notice", { weight: 1 }));
    const v = identityReport(e, ORDER);
    expect(v.retainedAlerts).toBeLessThanOrEqual(256);
    expect(v.score).toBeCloseTo(300, 6);
  });

  it("sweeps negligible alerts and finished workloads away", () => {
    const { engine: e, clock, settings } = engine();
    e.record(alert(e, clock, "warning"));
    clock.advance(settings.forgetAfterMs);
    e.sweep();
    expect(e.identityCount).toBe(0);
  });

  it("exports and imports its state, dropping what no longer matters", () => {
    const { engine: a, clock } = engine();
    a.heard(clock.ms);
    a.record(alert(a, clock, "critical", { id: "x1", rule: "Shell" }));
    a.record(alert(a, clock, "warning", { id: "x2", spiffeId: PAYMENT }));
    const state = JSON.parse(JSON.stringify(exportEngineState(a)));
    const b = engine({}, new Clock(clock.ms + 1000)).engine;
    importEngineState(b, state);
    expect(b.assess(ORDER)).toEqual(a.assess(ORDER));
    expect(b.assess(PAYMENT).level).toBe("medium");
    expect(b.feed()).toBe("fresh");
    // Ids come along: the same alert replayed later is not counted twice.
    expect(b.record(alert(b, clock, "critical", { id: "x1" }))).toBe("duplicate");
  });
});
