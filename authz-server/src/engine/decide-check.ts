/**
 * The decision itself, shared by live Checks (Authorizer), `explain` and policy unit tests so that all three give
 * the same answer by construction: CheckRequest → request model (or a rejection) → policy evaluation → decision.
 * Pure apart from the certificate parse cache.
 */

import type { CheckRequestMessage } from "../extauthz/check-request.js";
import { type BuildEnvironment, buildRequestModel, type Rejection } from "../extauthz/from-check-request.js";
import {
  type Decision,
  decision,
  IDENTITY_POLICY,
  INTERNAL_ERROR_POLICY,
  MALFORMED_POLICY,
  UNKNOWN_DESTINATION_POLICY,
} from "../model/decision.js";
import { evaluate } from "../policy/evaluate.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { Trace } from "../policy/trace.js";
import type { Authorization } from "./authorization.js";

export type DecideEnvironment = Omit<BuildEnvironment, "nowMs">;

export interface DecideOptions {
  readonly dryRun: boolean;
  readonly nowMs: number;
  readonly trace?: Trace;
  readonly decisionId?: string;
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
  options: DecideOptions,
): Authorization {
  const decisionId = options.decisionId ?? "";
  const policyVersion = set?.version ?? "";
  const built = buildRequestModel(request, env, options.nowMs);
  if (!built.ok) {
    const rejected = rejectionDecision(built.rejection);
    const common = { model: null, rejection: built.rejection, spoofedHeaders: built.spoofedHeaders };
    if (!options.dryRun) return { decision: rejected, evaluation: null, ...common, policyVersion, decisionId };
    const final = decision("allow", `dry-run mode, not enforced: ${rejected.reason}`, rejected.policy, rejected.rule);
    return {
      decision: final,
      evaluation: { decision: final, shadow: rejected, audit: null },
      ...common,
      policyVersion,
      decisionId,
    };
  }
  if (set === null) {
    return {
      decision: decision("deny", "no policy set is loaded yet", INTERNAL_ERROR_POLICY),
      evaluation: null,
      model: built.model,
      rejection: null,
      spoofedHeaders: built.spoofedHeaders,
      policyVersion,
      decisionId,
    };
  }
  const evaluation = evaluate(set, built.model, { dryRun: options.dryRun, trace: options.trace });
  return {
    decision: evaluation.decision,
    evaluation,
    model: built.model,
    rejection: null,
    spoofedHeaders: built.spoofedHeaders,
    policyVersion,
    decisionId,
  };
}
