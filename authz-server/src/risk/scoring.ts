/**
 * Risk arithmetic, pure: an alert's weight (rule override, else the largest tag override, else its priority's
 * weight, the last two times its source's weight), exponential decay by half-life, and the level a score reaches.
 *
 * Defaults (documented in README.md): one Warning (10) makes a workload medium for about a half-life; two Errors
 * (40) make it high; ten Warnings or five Errors in quick succession make it critical by score alone; an active
 * Emergency, Alert or Critical alert makes it critical at once, whatever the score.
 */
import type { FalcoPriority, RiskLevel } from "../model/risk-view.js";

export const DEFAULT_WEIGHTS: Readonly<Record<FalcoPriority, number>> = Object.freeze({
  emergency: 100,
  alert: 80,
  critical: 50,
  error: 20,
  warning: 10,
  notice: 4,
  informational: 1,
  debug: 0,
});

export interface Thresholds {
  readonly medium: number;
  readonly high: number;
  readonly critical: number;
}

export interface WeightRules {
  readonly weights: Readonly<Record<FalcoPriority, number>>;
  /** Exact rule name → weight; wins over everything else and is final (a rule belongs to one source already). */
  readonly ruleWeights: ReadonlyMap<string, number>;
  /** Tag → weight; the largest matching tag wins over the priority weight. */
  readonly tagWeights: ReadonlyMap<string, number>;
  /** Falco source → multiplier of tag and priority weights; a source not listed counts 1. */
  readonly sourceWeights: ReadonlyMap<string, number>;
}

/** What weighing looks at in an alert. */
export interface WeighedAlert {
  readonly rule: string;
  readonly priority: FalcoPriority;
  readonly tags: readonly string[];
  /** Falco's `source`: `syscall`, `k8s_audit`, a plugin's; "" when absent. */
  readonly source: string;
}

/**
 * The source a weight is looked up under. An alert without `source` comes from a Falco older than 0.30, which
 * reported syscalls only (Falcosidekick fills the gap with "syscalls").
 */
export function weightSource(source: string): string {
  return source === "" || source === "syscalls" ? "syscall" : source;
}

export function alertWeight(alert: WeighedAlert, rules: WeightRules): number {
  const byRule = rules.ruleWeights.get(alert.rule);
  if (byRule !== undefined) return byRule;
  const multiplier = rules.sourceWeights.size > 0 ? (rules.sourceWeights.get(weightSource(alert.source)) ?? 1) : 1;
  if (rules.tagWeights.size > 0) {
    let byTag = -1;
    for (const tag of alert.tags) {
      const w = rules.tagWeights.get(tag);
      if (w !== undefined && w > byTag) byTag = w;
    }
    if (byTag >= 0) return byTag * multiplier;
  }
  return rules.weights[alert.priority] * multiplier;
}

/** `weight × 2^(−age / halfLife)`; an age below zero (clock skew) counts as zero. */
export function decayed(weight: number, ageMs: number, halfLifeMs: number): number {
  return ageMs <= 0 ? weight : weight * 2 ** (-ageMs / halfLifeMs);
}

export function levelForScore(score: number, t: Thresholds): RiskLevel {
  if (score >= t.critical) return "critical";
  if (score >= t.high) return "high";
  if (score >= t.medium) return "medium";
  return "low";
}

export function thresholdOf(level: RiskLevel, t: Thresholds): number {
  return level === "low" ? 0 : t[level];
}

/** How long a score, left alone, stays at or above `threshold`. */
export function msAbove(score: number, threshold: number, halfLifeMs: number): number {
  if (threshold <= 0) return Number.POSITIVE_INFINITY;
  if (score < threshold) return 0;
  return halfLifeMs * Math.log2(score / threshold);
}
