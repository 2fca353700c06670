/**
 * The decision path of one Check: CheckRequest → request model → policy evaluation → CheckResponse, plus the
 * decision log line and metrics. Synchronous and free of I/O: policies and risk are in memory. Never throws: an
 * internal error becomes a deny, because an RPC failure would be handed to Envoy's failure mode instead.
 */
import { randomUUID } from "node:crypto";
import { type CheckResponseMessage, toCheckResponse } from "../grpc/check-response.js";
import type { IdentityPolicy } from "../identity/caller-identity.js";
import type { CertificateCache } from "../identity/certificate-cache.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import {
  type Decision,
  decision,
  IDENTITY_POLICY,
  INTERNAL_ERROR_POLICY,
  MALFORMED_POLICY,
  UNKNOWN_DESTINATION_POLICY,
} from "../policy/decision.js";
import { type Evaluation, evaluate } from "../policy/evaluate.js";
import type { CheckRequestMessage } from "../request/check-request.js";
import { fromCheckRequest, type Rejection } from "../request/from-check-request.js";
import type { RequestModel } from "../request/request-model.js";
import type { RiskView } from "../risk/risk-view.js";
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

function rejectionDecision(r: Rejection): Decision {
  switch (r.kind) {
    case "identity":
      return decision("unauthenticated", `identity rejected: ${r.reason}`, IDENTITY_POLICY);
    case "destination":
      return decision("deny", r.reason, UNKNOWN_DESTINATION_POLICY);
    default:
      return decision("deny", `malformed request: ${r.reason}`, MALFORMED_POLICY);
  }
}

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  authorize(request: CheckRequestMessage): AuthorizeResult {
    const started = performance.now();
    const decisionId = randomUUID();
    const { deps } = this;
    const set = deps.policies.current;
    const policyVersion = set?.version ?? "";
    let model: RequestModel | null = null;
    let evaluation: Evaluation | null = null;
    let final: Decision;
    let removeHeaders: string[] | null = null;
    let reportedPrincipal = "";
    const dryRun = deps.dryRun();

    try {
      const built = fromCheckRequest(request, {
        identity: deps.identity,
        certificates: deps.certificates,
        risk: deps.risk,
        labelsOf: deps.labelsOf,
        nowMs: Date.now(),
      });
      removeHeaders = built.spoofedHeaders;
      if (removeHeaders !== null) {
        deps.metrics.spoofedHeaders.inc();
        deps.logger.warn(
          { event: "spoofed identity headers ignored", decision_id: decisionId, headers: removeHeaders },
          "request carried x-trustgate-peer-* headers that no trusted filter set; they were ignored and removed",
        );
      }
      if (!built.ok) {
        reportedPrincipal = built.rejection.principal;
        deps.metrics.rejections.labels(built.rejection.kind).inc();
        const rejected = rejectionDecision(built.rejection);
        final = dryRun
          ? decision("allow", `dry-run mode, not enforced: ${rejected.reason}`, rejected.policy, rejected.rule)
          : rejected;
        if (dryRun) evaluation = { decision: final, shadow: rejected, audit: null };
      } else if (set === null) {
        final = decision("deny", "no policy set is loaded yet", INTERNAL_ERROR_POLICY);
      } else {
        model = built.model;
        evaluation = evaluate(set, model, { dryRun });
        final = evaluation.decision;
      }
    } catch (err) {
      deps.logger.error({ err, decision_id: decisionId }, "internal error while deciding; denying");
      final = decision("deny", "internal error while deciding", INTERNAL_ERROR_POLICY);
    }

    const shadow = evaluation?.shadow ?? null;
    if (shadow !== null) {
      deps.metrics.shadowDecisions.labels(shadow.policy, shadow.allowed ? "allow" : "deny").inc();
    }
    if (evaluation?.audit) for (const id of evaluation.audit) deps.metrics.auditMatches.labels(id).inc();

    const response = toCheckResponse(final, {
      decisionId,
      caller: model?.source.principal ?? "",
      policyVersion,
      removeHeaders,
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
        reportedPrincipal,
        shadow,
        audit: evaluation?.audit ?? null,
        durationMs,
      });
    }
    return { response, decision: final, decisionId };
  }
}
