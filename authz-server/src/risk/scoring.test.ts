import { describe, expect, it } from "vitest";
import { testConfig } from "../../test/support/config.js";
import { resolveConfig } from "../config/load-config.js";
import type { FalcoPriority } from "../model/risk-view.js";
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
    const weigh = (rule: string, priority: FalcoPriority, tags: string[]) =>
      alertWeight({ rule, priority, tags, source: "syscall" }, s);
    expect(weigh("Terminal shell in container", "notice", ["T1059"])).toBe(70);
    expect(weigh("Noisy rule", "critical", [])).toBe(0);
    expect(weigh("Other", "notice", ["mitre_execution", "T1059", "shell"])).toBe(25);
    expect(weigh("Other", "warning", ["shell"])).toBe(12);
  });

  it("multiplies tag and priority weights (not rule weights) by the source's weight; unlisted sources count 1", () => {
    const s = settings({
      ruleWeights: { "Attach/Exec Pod": 60 },
      tagWeights: { k8s_secrets: 8 },
      sourceWeights: { k8s_audit: 0.5, aws_cloudtrail: 3, syscall: 2 },
    });
    const audit = (rule: string, priority: FalcoPriority, tags: string[] = ["k8s"]) =>
      alertWeight({ rule, priority, tags, source: "k8s_audit" }, s);
    expect(audit("Disallowed K8s User", "warning")).toBe(5);
    expect(audit("K8s Secret Get Successfully", "error", ["k8s", "k8s_secrets"])).toBe(4);
    expect(audit("Attach/Exec Pod", "notice")).toBe(60);
    expect(alertWeight({ rule: "x", priority: "notice", tags: [], source: "aws_cloudtrail" }, s)).toBe(12);
    expect(alertWeight({ rule: "x", priority: "notice", tags: [], source: "okta" }, s)).toBe(4);
    // Falco before 0.30 sent no source (Falcosidekick writes "syscalls"): those are syscall alerts.
    expect(alertWeight({ rule: "x", priority: "notice", tags: [], source: "" }, s)).toBe(8);
    expect(alertWeight({ rule: "x", priority: "notice", tags: [], source: "syscalls" }, s)).toBe(8);
    // A source weighed 0 adds nothing; by default every source counts the same.
    const silent = settings({ sourceWeights: { k8s_audit: 0 } });
    expect(alertWeight({ rule: "x", priority: "critical", tags: [], source: "k8s_audit" }, silent)).toBe(0);
    const plain = settings({});
    expect(alertWeight({ rule: "x", priority: "notice", tags: [], source: "k8s_audit" }, plain)).toBe(
      alertWeight({ rule: "x", priority: "notice", tags: [], source: "syscall" }, plain),
    );
  });

  it("keeps heavily weighed alerts long enough to matter", () => {
    const plain = settings({ halfLifeSeconds: 60 });
    const heavy = settings({ halfLifeSeconds: 60, sourceWeights: { k8s_audit: 10 } });
    // Ten times the weight stays above the negligible level log2(10) half-lives longer.
    expect(heavy.forgetAfterMs - plain.forgetAfterMs).toBeCloseTo(60_000 * Math.log2(10), 0);
  });

  it("refuses weights for unknown priorities and thresholds that do not rise", () => {
    const error = (risk: Record<string, unknown>) => {
      const result = resolveConfig({ risk }, {});
      return result.ok ? "" : result.error;
    };
    expect(error({ weights: { severe: 3 } })).toMatch(/risk\.weights\.severe: not a Falco priority/);
    expect(error({ thresholds: { medium: 50 } })).toMatch(/medium < high < critical/);
    expect(error({ thresholds: { high: 200 } })).toMatch(/medium < high < critical/);
    expect(error({ sourceWeights: { internal: 1 } })).toMatch(/risk\.sourceWeights\.internal: internal alerts never/);
    expect(error({ sourceWeights: { syscalls: 1 } })).toMatch(/risk\.sourceWeights\.syscalls: .*"syscall"/);
    expect(error({ sourceWeights: { "k8s audit": 1 } })).toMatch(/not a Falco source name/);
    expect(error({ sourceWeights: { k8s_audit: 11 } })).toMatch(/risk\.sourceWeights\.k8s_audit/);
    expect(error({ sourceWeights: { k8s_audit: -1 } })).toMatch(/risk\.sourceWeights\.k8s_audit/);
  });

  it("defaults the active window to one half-life and keeps the dedup window inside it", () => {
    const s = settings({ halfLifeSeconds: 2 });
    expect(s.halfLifeMs).toBe(2000);
    expect(s.activeWindowMs).toBe(2000);
    expect(s.dedupWindowMs).toBe(2000);
    expect(settings({ halfLifeSeconds: 600, activeWindowSeconds: 60 }).dedupWindowMs).toBe(10_000);
  });
});
