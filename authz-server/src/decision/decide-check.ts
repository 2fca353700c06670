/**
 * The decision itself, shared by live Checks (Authorizer), `explain` and policy unit tests so that all three give
 * the same answer by construction: CheckRequest → request model (or a rejection) → policy evaluation.
 * Pure apart from the certificate parse cache.
 */

import type { IdentityPolicy } from "../identity/caller-identity.js";
import type { CertificateCache } from "../identity/certificate-cache.js";
import {
  type Decision,
  decision,
  IDENTITY_POLICY,
  INTERNAL_ERROR_POLICY,
  MALFORMED_POLICY,
  UNKNOWN_DESTINATION_POLICY,
} from "../policy/decision.js";
import { type Evaluation, evaluate } from "../policy/evaluate.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { Trace } from "../policy/trace.js";
import type { CheckRequestMessage } from "../request/check-request.js";
import { fromCheckRequest, type Rejection } from "../request/from-check-request.js";
import type { RequestModel } from "../request/request-model.js";
import type { RiskView } from "../risk/risk-view.js";

export interface DecideEnvironment {
  readonly identity: IdentityPolicy;
  readonly certificates: CertificateCache;
  readonly risk: RiskView;
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
}

export interface CheckOutcome {
  readonly decision: Decision;
  /** Set when policies were evaluated. */
  readonly evaluation: Evaluation | null;
  readonly model: RequestModel | null;
  /** Set when the request was refused before policy evaluation. */
  readonly rejection: Rejection | null;
  readonly spoofedHeaders: string[] | null;
}

export function rejectionDecision(r: Rejection): Decision {
  switch (r.kind) {
    case "identity":
      return decision("unauthenticated", `identity rejected: ${r.reason}`, IDENTITY_POLICY);
    case "destination":
      return decision("deny", r.reason, UNKNOWN_DESTINATION_POLICY);
    default:
      return decision("deny", `malformed request: ${r.reason}`, MALFORMED_POLICY);
  }
}

export function decideCheck(
  request: CheckRequestMessage,
  set: PolicySet | null,
  env: DecideEnvironment,
  options: { dryRun: boolean; nowMs: number; trace?: Trace },
): CheckOutcome {
  const built = fromCheckRequest(request, {
    identity: env.identity,
    certificates: env.certificates,
    risk: env.risk,
    labelsOf: env.labelsOf,
    nowMs: options.nowMs,
  });
  if (!built.ok) {
    const rejected = rejectionDecision(built.rejection);
    if (!options.dryRun) {
      return {
        decision: rejected,
        evaluation: null,
        model: null,
        rejection: built.rejection,
        spoofedHeaders: built.spoofedHeaders,
      };
    }
    const final = decision("allow", `dry-run mode, not enforced: ${rejected.reason}`, rejected.policy, rejected.rule);
    return {
      decision: final,
      evaluation: { decision: final, shadow: rejected, audit: null },
      model: null,
      rejection: built.rejection,
      spoofedHeaders: built.spoofedHeaders,
    };
  }
  if (set === null) {
    return {
      decision: decision("deny", "no policy set is loaded yet", INTERNAL_ERROR_POLICY),
      evaluation: null,
      model: built.model,
      rejection: null,
      spoofedHeaders: built.spoofedHeaders,
    };
  }
  const evaluation = evaluate(set, built.model, { dryRun: options.dryRun, trace: options.trace });
  return {
    decision: evaluation.decision,
    evaluation,
    model: built.model,
    rejection: null,
    spoofedHeaders: built.spoofedHeaders,
  };
}
