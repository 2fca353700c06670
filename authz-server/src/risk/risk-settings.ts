/**
 * The risk engine's settings, resolved from the `risk` configuration section and checked: weight keys must be Falco
 * priorities, thresholds must rise from medium to critical. Times are in milliseconds from here on.
 */
import { type Config, ConfigError } from "../config/config.js";
import { parsePriority } from "../falco/priority.js";
import type { FalcoPriority } from "./risk-view.js";
import { DEFAULT_THRESHOLDS, DEFAULT_WEIGHTS, type Thresholds, type WeightRules } from "./scoring.js";

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

export function resolveRiskSettings(risk: Config["risk"]): RiskSettings {
  const weights: Record<FalcoPriority, number> = { ...DEFAULT_WEIGHTS };
  for (const [name, weight] of Object.entries(risk.weights)) {
    const priority = parsePriority(name);
    if (priority === null) throw new ConfigError(`risk.weights.${name}: not a Falco priority`);
    weights[priority] = weight;
  }
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...risk.thresholds };
  if (!(thresholds.medium < thresholds.high && thresholds.high < thresholds.critical)) {
    throw new ConfigError(
      `risk.thresholds: must rise medium < high < critical (got ${thresholds.medium}, ${thresholds.high}, ${thresholds.critical})`,
    );
  }
  if (thresholds.medium < NEGLIGIBLE_SCORE * 10) {
    throw new ConfigError(`risk.thresholds.medium: must be at least ${NEGLIGIBLE_SCORE * 10}`);
  }
  const halfLifeMs = risk.halfLifeSeconds * 1000;
  const activeWindowMs = (risk.activeWindowSeconds ?? risk.halfLifeSeconds) * 1000;
  const ruleWeights = new Map(Object.entries(risk.ruleWeights));
  const tagWeights = new Map(Object.entries(risk.tagWeights));
  const heaviest = Math.max(1, ...Object.values(weights), ...ruleWeights.values(), ...tagWeights.values());
  return {
    halfLifeMs,
    activeWindowMs,
    // A repeat after the alert stopped being active is a new alert.
    dedupWindowMs: Math.min(risk.dedupWindowSeconds * 1000, activeWindowMs),
    staleAfterMs: risk.staleAfterSeconds * 1000,
    thresholds,
    weights,
    ruleWeights,
    tagWeights,
    maxIdentities: risk.maxIdentities,
    maxAlertsPerIdentity: 256,
    forgetAfterMs: activeWindowMs + halfLifeMs * Math.log2(heaviest / NEGLIGIBLE_SCORE),
  };
}
