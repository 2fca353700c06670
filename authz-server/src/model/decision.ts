/**
 * What the engine decides for one request. Pseudo-policy ids in the reserved `trustgate/` namespace name decisions
 * that no user policy made (identity rejections, malformed requests, no ALLOW rule matched).
 */

export type Outcome = "allow" | "deny" | "unauthenticated";

export const IDENTITY_POLICY = "trustgate/identity";
export const MALFORMED_POLICY = "trustgate/malformed-request";
export const UNKNOWN_DESTINATION_POLICY = "trustgate/unknown-destination";
export const DEFAULT_DENY_POLICY = "trustgate/default-deny";
export const NO_ALLOW_POLICY = "trustgate/no-allow-policy";
export const INTERNAL_ERROR_POLICY = "trustgate/internal-error";

export interface Decision {
  readonly allowed: boolean;
  readonly outcome: Outcome;
  readonly reason: string;
  /** `<namespace>/<name>` of the deciding policy, or a `trustgate/…` pseudo-policy. */
  readonly policy: string;
  /** Index of the deciding rule, -1 when no rule decided. */
  readonly rule: number;
}

export function decision(outcome: Outcome, reason: string, policy: string, rule = -1): Decision {
  return { allowed: outcome === "allow", outcome, reason, policy, rule };
}
