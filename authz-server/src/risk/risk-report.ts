/**
 * The operator's view of runtime risk (`GET /v1/risk`): per workload its score, level, the alert behind the level
 * and its alerts, in Falco's spelling. Read-only over the engine.
 */
import { PRIORITY_SPELLING } from "../model/falco-priority.js";
import { NO_RISK, type RiskAssessment } from "../model/risk-view.js";
import type { IdentityRisk } from "./identity-risk.js";
import type { RiskEngine } from "./risk-engine.js";

export interface AlertView {
  readonly rule: string;
  readonly priority: string;
  readonly time: string;
  readonly lastTime: string;
  readonly count: number;
  readonly weight: number;
  readonly score: number;
  readonly active: boolean;
  readonly receivedAt: string;
}

export interface IdentityView extends RiskAssessment {
  readonly spiffeId: string;
  readonly score: number;
  readonly activeAlerts: readonly AlertView[];
  readonly alerts?: readonly AlertView[];
  readonly retainedAlerts: number;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function describe(identity: IdentityRisk, nowMs: number, withAll: boolean): IdentityView {
  const a = identity.assess(nowMs);
  const alerts = identity.entries
    .map(
      (e): AlertView => ({
        rule: e.rule,
        priority: PRIORITY_SPELLING[e.priority],
        time: e.time,
        lastTime: e.lastTime,
        count: e.count,
        weight: e.weight,
        score: round(identity.contribution(e, nowMs)),
        active: identity.isActive(e, nowMs),
        receivedAt: new Date(e.receivedMs).toISOString(),
      }),
    )
    .sort((x, y) => y.score - x.score);
  return {
    spiffeId: identity.spiffeId,
    level: a.level,
    highestAlert: a.highestAlert,
    explanation: a.explanation,
    score: round(identity.score(nowMs)),
    activeAlerts: alerts.filter((x) => x.active),
    ...(withAll ? { alerts } : {}),
    retainedAlerts: identity.entries.length,
  };
}

/** One workload for `/v1/risk?id=`, with all retained alerts; an unknown workload is low risk. */
export function identityReport(engine: RiskEngine, spiffeId: string): IdentityView {
  const identity = engine.identity(spiffeId);
  if (identity === undefined) {
    return { spiffeId, ...NO_RISK, score: 0, activeAlerts: [], alerts: [], retainedAlerts: 0 };
  }
  return describe(identity, engine.now(), true);
}

/** Every workload with retained alerts, riskiest first. */
export function allIdentitiesReport(engine: RiskEngine): IdentityView[] {
  const now = engine.now();
  const views = [...engine.allIdentities()].map((identity) => describe(identity, now, false));
  return views.sort((a, b) => b.score - a.score || a.spiffeId.localeCompare(b.spiffeId));
}
