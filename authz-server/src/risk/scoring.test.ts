import { describe, expect, it } from "vitest";
import { testConfig } from "../../test/support/config.js";
import { resolveConfig } from "../config/load-config.js";
import { resolveRiskSettings } from "./risk-settings.js";
import { alertWeight, DEFAULT_WEIGHTS, decayed, levelForScore, msAbove } from "./scoring.js";

function settings(risk: Record<string, unknown>) {
  return resolveRiskSettings(testConfig({ risk }).risk);
}

describe("scoring", () => {
  it("halves a weight every half-life and never grows it for an alert from the future", () => {
    expect(decayed(40, 0, 1000)).toBe(40);
    expect(decayed(40, 1000, 1000)).toBeCloseTo(20, 10);
    expect(decayed(40, 3000, 1000)).toBeCloseTo(5, 10);
    expect(decayed(40, -5000, 1000)).toBe(40);
  });

  it("maps scores to levels at the thresholds (inclusive)", () => {
    const DEFAULT_THRESHOLDS = settings({}).thresholds;
    expect(DEFAULT_THRESHOLDS).toEqual({ medium: 5, high: 30, critical: 100 });
    expect(levelForScore(4.99, DEFAULT_THRESHOLDS)).toBe("low");
    expect(levelForScore(5, DEFAULT_THRESHOLDS)).toBe("medium");
    expect(levelForScore(30, DEFAULT_THRESHOLDS)).toBe("high");
    expect(levelForScore(99.9, DEFAULT_THRESHOLDS)).toBe("high");
    expect(levelForScore(100, DEFAULT_THRESHOLDS)).toBe("critical");
  });

  it("computes how long a score stays above a threshold", () => {
    expect(msAbove(40, 10, 1000)).toBeCloseTo(2000, 6);
    expect(msAbove(5, 10, 1000)).toBe(0);
    expect(msAbove(5, 0, 1000)).toBe(Number.POSITIVE_INFINITY);
  });

  it("weighs by rule override, else the largest tag override, else the priority", () => {
    const s = settings({
      weights: { Warning: 12, INFO: 2 },
      ruleWeights: { "Terminal shell in container": 70, "Noisy rule": 0 },
      tagWeights: { mitre_execution: 15, T1059: 25 },
    });
    expect(s.weights.warning).toBe(12);
    expect(s.weights.informational).toBe(2);
    expect(s.weights.error).toBe(DEFAULT_WEIGHTS.error);
    expect(alertWeight("Terminal shell in container", "notice", ["T1059"], s)).toBe(70);
    expect(alertWeight("Noisy rule", "critical", [], s)).toBe(0);
    expect(alertWeight("Other", "notice", ["mitre_execution", "T1059", "shell"], s)).toBe(25);
    expect(alertWeight("Other", "warning", ["shell"], s)).toBe(12);
  });

  it("refuses weights for unknown priorities and thresholds that do not rise", () => {
    const error = (risk: Record<string, unknown>) => {
      const result = resolveConfig({ risk }, {});
      return result.ok ? "" : result.error;
    };
    expect(error({ weights: { severe: 3 } })).toMatch(/risk\.weights\.severe: not a Falco priority/);
    expect(error({ thresholds: { medium: 50 } })).toMatch(/medium < high < critical/);
    expect(error({ thresholds: { high: 200 } })).toMatch(/medium < high < critical/);
  });

  it("defaults the active window to one half-life and keeps the dedup window inside it", () => {
    const s = settings({ halfLifeSeconds: 2 });
    expect(s.halfLifeMs).toBe(2000);
    expect(s.activeWindowMs).toBe(2000);
    expect(s.dedupWindowMs).toBe(2000);
    expect(settings({ halfLifeSeconds: 600, activeWindowSeconds: 60 }).dedupWindowMs).toBe(10_000);
  });
});
