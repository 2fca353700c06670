/**
 * The risk engine's settings, from the `risk` configuration section (already validated by the config schema: weight
 * keys are Falco priorities, thresholds rise from medium to critical). Times are in milliseconds from here on.
 */
import { parsePriority } from "../model/falco-priority.js";
import type { FalcoPriority } from "../model/risk-view.js";
import { DEFAULT_WEIGHTS, type Thresholds, type WeightRules } from "./scoring.js";

/** The `risk` configuration section, as the config schema produces it. */
export interface RiskConfig {
  readonly halfLifeSeconds: number;
  readonly staleAfterSeconds: number;
  readonly weights: Readonly<Record<string, number>>;
  readonly ruleWeights: Readonly<Record<string, number>>;
  readonly tagWeights: Readonly<Record<string, number>>;
  readonly sourceWeights: Readonly<Record<string, number>>;
  readonly thresholds: Thresholds;
  readonly activeWindowSeconds?: number | undefined;
  readonly dedupWindowSeconds: number;
  readonly maxIdentities: number;
}

export interface RiskSettings extends WeightRules {
  readonly halfLifeMs: number;
  /** How long after its (latest) event time an alert is active. */
  readonly activeWindowMs: number;
  readonly dedupWindowMs: number;
  readonly staleAfterMs: number;
  readonly thresholds: Thresholds;
  readonly maxIdentities: number;
  /** Alerts kept individually per identity; older ones are folded into a residual score. */
  readonly maxAlertsPerIdentity: number;
  /** After this long even the heaviest alert no longer matters: it is forgotten (and its id too). */
  readonly forgetAfterMs: number;
}

/** A contribution below this is negligible against any threshold: such alerts are folded away or not stored. */
export const NEGLIGIBLE_SCORE = 0.01;

export function resolveRiskSettings(risk: RiskConfig): RiskSettings {
  const weights: Record<FalcoPriority, number> = { ...DEFAULT_WEIGHTS };
  for (const [name, weight] of Object.entries(risk.weights)) {
    const priority = parsePriority(name);
    if (priority !== null) weights[priority] = weight;
  }
  const halfLifeMs = risk.halfLifeSeconds * 1000;
  const activeWindowMs = (risk.activeWindowSeconds ?? risk.halfLifeSeconds) * 1000;
  const ruleWeights = new Map(Object.entries(risk.ruleWeights));
  const tagWeights = new Map(Object.entries(risk.tagWeights));
  const sourceWeights = new Map(Object.entries(risk.sourceWeights));
  const heaviest =
    Math.max(1, ...Object.values(weights), ...ruleWeights.values(), ...tagWeights.values()) *
    Math.max(1, ...sourceWeights.values());
  return {
    halfLifeMs,
    activeWindowMs,
    // A repeat after the alert stopped being active is a new alert.
    dedupWindowMs: Math.min(risk.dedupWindowSeconds * 1000, activeWindowMs),
    staleAfterMs: risk.staleAfterSeconds * 1000,
    thresholds: { ...risk.thresholds },
    weights,
    ruleWeights,
    tagWeights,
    sourceWeights,
    maxIdentities: risk.maxIdentities,
    maxAlertsPerIdentity: 256,
    forgetAfterMs: activeWindowMs + halfLifeMs * Math.log2(heaviest / NEGLIGIBLE_SCORE),
  };
}
