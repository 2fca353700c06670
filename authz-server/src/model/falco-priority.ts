/**
 * Falco priorities: parsing the spellings Falco, Falcosidekick and rules files use (case-insensitive, `info` accepted
 * as Falco's own parser does) and printing them the way Falco's JSON output does (Title case, `Informational`).
 */
import { FALCO_PRIORITIES, type FalcoPriority } from "./risk-view.js";

/** Falco's JSON spelling of each priority (`falco_common::format_priority`). */
export const PRIORITY_SPELLING: Readonly<Record<FalcoPriority, string>> = Object.freeze({
  emergency: "Emergency",
  alert: "Alert",
  critical: "Critical",
  error: "Error",
  warning: "Warning",
  notice: "Notice",
  informational: "Informational",
  debug: "Debug",
});

/** Severity rank: 0 for emergency (most severe) … 7 for debug, as Falco numbers them. */
export const PRIORITY_RANK: Readonly<Record<FalcoPriority, number>> = Object.freeze(
  Object.fromEntries(FALCO_PRIORITIES.map((p, i) => [p, i])) as Record<FalcoPriority, number>,
);

/** Emergency, Alert and Critical lift a workload straight to level critical while the alert is active. */
export const LIFT_RANK = PRIORITY_RANK.critical;

const BY_LOWER = new Map<string, FalcoPriority>(FALCO_PRIORITIES.map((p) => [p, p]));
BY_LOWER.set("info", "informational");

/** The priority named by `value` in any case, or null when it is not one of Falco's. */
export function parsePriority(value: string): FalcoPriority | null {
  return BY_LOWER.get(value.toLowerCase()) ?? null;
}
