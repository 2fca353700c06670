/**
 * The runtime risk a request description states (`source.risk`, `source.alerts`, `falcoFeed`, …), served to the
 * decision as a RiskView; what the description does not state comes from a base view (live risk, or nobody at risk).
 */
import {
  FALCO_PRIORITIES,
  type FalcoPriority,
  NO_ALERT,
  NO_RISK,
  type RiskAssessment,
  type RiskLevel,
  type RiskView,
} from "../model/risk-view.js";
import type { DescribedAlert, RequestDescription } from "./request-description.js";

function alertPriority(a: DescribedAlert): FalcoPriority {
  return typeof a === "string" ? a : a.priority;
}

function title(p: string): string {
  return p.charAt(0).toUpperCase() + p.slice(1);
}

/** Risk as the description states it; falls back to `base` for what it does not state. */
function describedRisk(
  level: RiskLevel | undefined,
  alerts: readonly DescribedAlert[] | undefined,
): RiskAssessment | null {
  if (level === undefined && alerts === undefined) return null;
  const list = alerts ?? [];
  let highest: FalcoPriority | typeof NO_ALERT = NO_ALERT;
  let tipping: DescribedAlert | null = null;
  for (const a of list) {
    const p = alertPriority(a);
    if (highest === NO_ALERT || FALCO_PRIORITIES.indexOf(p) < FALCO_PRIORITIES.indexOf(highest)) {
      highest = p;
      tipping = a;
    }
  }
  const explanation =
    tipping === null
      ? ""
      : typeof tipping === "string"
        ? `Falco alert (${title(tipping)})`
        : `Falco "${tipping.rule}" (${title(tipping.priority)}${tipping.time ? `, ${tipping.time}` : ""})`;
  return { level: level ?? "low", highestAlert: highest, explanation };
}

export class DescribedRiskView implements RiskView {
  constructor(
    private readonly description: RequestDescription,
    private readonly base: RiskView,
  ) {}

  assess(spiffeId: string): RiskAssessment {
    const { source, destination } = this.description;
    if (spiffeId !== "" && spiffeId === (source.principal ?? "")) {
      return describedRisk(source.risk, source.alerts) ?? this.base.assess(spiffeId);
    }
    if (spiffeId !== "" && spiffeId === (destination.principal ?? "")) {
      return describedRisk(destination.risk, destination.alerts) ?? this.base.assess(spiffeId);
    }
    return spiffeId === "" ? NO_RISK : this.base.assess(spiffeId);
  }

  feed() {
    return this.description.falcoFeed ?? this.base.feed();
  }
}
