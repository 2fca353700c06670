/**
 * The decision path of one Check: CheckRequest → decision (decide-check.ts) → CheckResponse, plus the decision log
 * line and metrics. Synchronous and free of I/O: policies and risk are in memory. Never throws: an internal error
 * becomes a deny, because an RPC failure would be handed to Envoy's failure mode instead.
 */
import { randomUUID } from "node:crypto";
import { type CheckResponseMessage, toCheckResponse } from "../grpc/check-response.js";
import type { IdentityPolicy } from "../identity/caller-identity.js";
import type { CertificateCache } from "../identity/certificate-cache.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { type Decision, decision, INTERNAL_ERROR_POLICY } from "../policy/decision.js";
import type { CheckRequestMessage } from "../request/check-request.js";
import type { RiskView } from "../risk/risk-view.js";
import { type CheckOutcome, decideCheck } from "./decide-check.js";
import type { DecisionLog } from "./decision-log.js";
import type { PolicyHolder } from "./policy-holder.js";

export interface AuthorizerDeps {
  readonly policies: PolicyHolder;
  readonly identity: IdentityPolicy;
  readonly certificates: CertificateCache;
  readonly risk: RiskView;
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  readonly metrics: Metrics;
  readonly decisionLog: DecisionLog;
  readonly logger: Logger;
  /** Global dry-run: read on every Check so it can be switched at run time. */
  readonly dryRun: () => boolean;
}

export interface AuthorizeResult {
  readonly response: CheckResponseMessage;
  readonly decision: Decision;
  readonly decisionId: string;
}

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  authorize(request: CheckRequestMessage): AuthorizeResult {
    const started = performance.now();
    const decisionId = randomUUID();
    const { deps } = this;
    const set = deps.policies.current;
    const policyVersion = set?.version ?? "";
    let outcome: CheckOutcome;
    try {
      outcome = decideCheck(request, set, deps, { dryRun: deps.dryRun(), nowMs: Date.now() });
    } catch (err) {
      deps.logger.error({ err, decision_id: decisionId }, "internal error while deciding; denying");
      const failed = decision("deny", "internal error while deciding", INTERNAL_ERROR_POLICY);
      outcome = { decision: failed, evaluation: null, model: null, rejection: null, spoofedHeaders: null };
    }
    const { decision: final, evaluation, model, rejection, spoofedHeaders } = outcome;

    if (spoofedHeaders !== null) {
      deps.metrics.spoofedHeaders.inc();
      deps.logger.warn(
        { event: "spoofed identity headers ignored", decision_id: decisionId, headers: spoofedHeaders },
        "request carried x-trustgate-peer-* headers that no trusted filter set; they were ignored and removed",
      );
    }
    if (rejection !== null) deps.metrics.rejections.labels(rejection.kind).inc();
    const shadow = evaluation?.shadow ?? null;
    if (shadow !== null) deps.metrics.shadowDecisions.labels(shadow.policy, shadow.allowed ? "allow" : "deny").inc();
    if (evaluation?.audit) for (const id of evaluation.audit) deps.metrics.auditMatches.labels(id).inc();

    const response = toCheckResponse(final, {
      decisionId,
      caller: model?.source.principal ?? "",
      policyVersion,
      removeHeaders: spoofedHeaders,
      shadow,
    });
    const durationMs = performance.now() - started;
    deps.metrics.countDecision(final.outcome, final.policy);
    deps.metrics.checkDuration.observe(durationMs / 1000);
    if (deps.decisionLog.shouldLog(final.allowed)) {
      deps.decisionLog.write({
        decisionId,
        decision: final,
        policyVersion,
        model,
        reportedPrincipal: rejection?.principal ?? "",
        shadow,
        audit: evaluation?.audit ?? null,
        durationMs,
      });
    }
    return { response, decision: final, decisionId };
  }
}
