/**
 * The answer to one Check with the evidence behind it: the decision, the policy evaluation (when policies ran), the
 * request model (when the request could be read) or the reason it was refused before policies, and the identity
 * headers a client forged. Live Checks, `explain` and policy tests all produce one.
 */
import type { Rejection } from "../extauthz/from-check-request.js";
import type { Decision } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import type { Evaluation } from "../policy/evaluate.js";

export interface Authorization {
  readonly decision: Decision;
  /** Set when policies were evaluated. */
  readonly evaluation: Evaluation | null;
  readonly model: RequestModel | null;
  /** Set when the request was refused before policy evaluation. */
  readonly rejection: Rejection | null;
  readonly spoofedHeaders: string[] | null;
  /** Version of the policy set that decided ("" when none was loaded). */
  readonly policyVersion: string;
  /** Unique per live Check ("" for explain and policy tests). */
  readonly decisionId: string;
}
