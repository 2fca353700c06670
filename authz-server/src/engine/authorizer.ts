/**
 * One live Check: decide it (decide-check.ts), count it, log it. Synchronous and free of I/O: policies and risk are
 * in memory. Never throws: an internal error becomes a deny, because an RPC failure would be handed to Envoy's
 * failure mode instead. Turning the answer into a CheckResponse is the gRPC layer's job.
 */
import { randomUUID } from "node:crypto";
import type { CheckRequestMessage } from "../extauthz/check-request.js";
import { decision, INTERNAL_ERROR_POLICY } from "../model/decision.js";
import type { DecisionLog } from "../observability/decision-log.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import type { Authorization } from "./authorization.js";
import type { CertificateSightings } from "./certificate-sightings.js";
import { type DecideEnvironment, decideCheck } from "./decide-check.js";

export interface AuthorizerDeps extends DecideEnvironment {
  readonly policies: PolicyHolder;
  readonly metrics: Metrics;
  readonly decisionLog: DecisionLog;
  readonly logger: Logger;
  /** Global dry-run: decide and log everything, enforce nothing. */
  readonly dryRun: boolean;
  /** Counts Checks with and without the caller's certificate. */
  readonly sightings?: CertificateSightings;
}

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  authorize(request: CheckRequestMessage): Authorization {
    const started = performance.now();
    const decisionId = randomUUID();
    const { deps } = this;
    const set = deps.policies.current;
    let result: Authorization;
    try {
      result = decideCheck(request, set, deps, { dryRun: deps.dryRun, nowMs: Date.now(), decisionId });
    } catch (err) {
      deps.logger.error({ err, decision_id: decisionId }, "internal error while deciding; denying");
      result = {
        decision: decision("deny", "internal error while deciding", INTERNAL_ERROR_POLICY),
        evaluation: null,
        model: null,
        rejection: null,
        spoofedHeaders: null,
        policyVersion: set?.version ?? "",
        decisionId,
      };
    }
    const { decision: final, evaluation, rejection, spoofedHeaders, model } = result;
    if (model !== null) deps.sightings?.see(model.source.principal, model.source.certificateFingerprint);

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

    const durationMs = performance.now() - started;
    deps.metrics.countDecision(final.outcome, final.policy);
    deps.metrics.checkDuration.observe(durationMs / 1000);
    if (deps.decisionLog.shouldLog(final.allowed)) deps.decisionLog.write(result, durationMs);
    return result;
  }
}
