/**
 * What the decision path may ask about runtime risk. Implementations answer from memory, synchronously: the risk
 * engine updates its state in the background and the decision path never waits for it.
 */

export const RISK_LEVELS = ["low", "medium", "high", "critical"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** Falco priorities, most severe first, in the lower-case spelling policies use. */
export const FALCO_PRIORITIES = [
  "emergency",
  "alert",
  "critical",
  "error",
  "warning",
  "notice",
  "informational",
  "debug",
] as const;
export type FalcoPriority = (typeof FALCO_PRIORITIES)[number];

/** The value of `custom.falco_alert` when a workload has no active alert. */
export const NO_ALERT = "none";

export type FeedState = "fresh" | "stale";

export interface RiskAssessment {
  readonly level: RiskLevel;
  /** Highest priority among active alerts, lower case, or "none". */
  readonly highestAlert: FalcoPriority | typeof NO_ALERT;
  /** Names the alert that tipped the level, e.g. `Falco "Terminal shell in container" (Critical, 2026-…Z)`; "" if none. */
  readonly explanation: string;
}

export interface RiskView {
  /** Risk of a workload by SPIFFE ID; "" (no identity) is low risk with no alerts. */
  assess(spiffeId: string): RiskAssessment;
  /** Whether the Falco feed has been heard from recently (an alert or a heartbeat). */
  feed(): FeedState;
}

export const NO_RISK: RiskAssessment = Object.freeze({ level: "low", highestAlert: NO_ALERT, explanation: "" });

/** The risk view used until a risk engine is configured: everyone is low risk; the feed is reported fresh. */
export const quietRiskView: RiskView = {
  assess: () => NO_RISK,
  feed: () => "fresh",
};
