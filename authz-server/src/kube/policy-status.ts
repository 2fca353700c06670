/**
 * The status trustgate writes on a TrustgatePolicy: `observedGeneration` and two conditions in the shape of
 * `metav1.Condition`: `Accepted` (is this generation the one in force, and if not why) and `Warnings` (lint
 * findings of the version in force). Pure: the status writer decides whether to send what this computes.
 * `lastTransitionTime` moves only when a condition's status changes, as the Kubernetes conventions ask.
 */

export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
}

export interface PolicyStatus {
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
}

/** A condition before it has a time and generation. */
export interface ConditionVerdict {
  readonly status: ConditionStatus;
  /** CamelCase, as the conventions require: Accepted, Invalid, Conflict, Pending, NoWarnings, LintWarnings… */
  readonly reason: string;
  readonly message: string;
}

export interface StatusVerdict {
  readonly generation: number;
  readonly accepted: ConditionVerdict;
  readonly warnings: ConditionVerdict;
}

/** metav1.Condition allows 32768 characters of message; stay well inside. */
const MAX_MESSAGE = 8_192;

function clip(message: string): string {
  return message.length <= MAX_MESSAGE
    ? message
    : `${message.slice(0, MAX_MESSAGE - 40)}… (${message.length} characters)`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function existingConditions(status: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!isRecord(status) || !Array.isArray(status.conditions)) return out;
  for (const c of status.conditions) if (isRecord(c) && typeof c.type === "string") out.set(c.type, c);
  return out;
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

export function desiredStatus(verdict: StatusVerdict, current: unknown, now: Date): PolicyStatus {
  const previous = existingConditions(current);
  const condition = (type: string, v: ConditionVerdict): Condition => {
    const before = previous.get(type);
    const since =
      before !== undefined && before.status === v.status && typeof before.lastTransitionTime === "string"
        ? before.lastTransitionTime
        : kubeTime(now);
    return {
      type,
      status: v.status,
      reason: v.reason,
      message: clip(v.message),
      observedGeneration: verdict.generation,
      lastTransitionTime: since,
    };
  };
  return {
    observedGeneration: verdict.generation,
    conditions: [condition("Accepted", verdict.accepted), condition("Warnings", verdict.warnings)],
  };
}

/** Whether `current` (the object's status as read) differs from `desired` in anything trustgate writes. */
export function statusDiffers(current: unknown, desired: PolicyStatus): boolean {
  if (!isRecord(current) || current.observedGeneration !== desired.observedGeneration) return true;
  const previous = existingConditions(current);
  if (!Array.isArray(current.conditions) || current.conditions.length !== desired.conditions.length) return true;
  for (const c of desired.conditions) {
    const before = previous.get(c.type);
    if (before === undefined) return true;
    for (const field of ["status", "reason", "message", "observedGeneration", "lastTransitionTime"] as const) {
      if (before[field] !== c[field]) return true;
    }
  }
  return false;
}
