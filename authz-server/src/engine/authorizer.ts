/**
 * One live Check: decide it (decide-check.ts), count it, log it, and — when tracing is on — record it as a
 * `trustgate.check` span parented on the trace context the request carried. Synchronous and free of I/O: policies
 * and risk are in memory, spans are exported in the background. Never throws: an internal error becomes a deny,
 * because an RPC failure would be handed to Envoy's failure mode instead. Turning the answer into a CheckResponse is
 * the gRPC layer's job.
 */
import { randomUUID } from "node:crypto";
import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { CheckRequestMessage } from "../extauthz/check-request.js";
import { headersOf } from "../extauthz/request-headers.js";
import { decision, INTERNAL_ERROR_POLICY } from "../model/decision.js";
import type { DecisionLog, TraceIds } from "../observability/decision-log.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { lowerHex, parentContext } from "../observability/trace-context.js";
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
  /** Set when tracing is on (observability/tracing.ts). */
  readonly tracer?: Tracer | null;
}

type Headers = Readonly<Record<string, string>>;

function requestHeaders(request: CheckRequestMessage): Headers | null {
  const http = request.attributes?.request?.http;
  return http ? headersOf(http) : null;
}

function describeSpan(span: Span, a: Authorization): void {
  const { decision, model } = a;
  span.setAttributes({
    "trustgate.decision": decision.allowed ? "allow" : "deny",
    "trustgate.outcome": decision.outcome,
    "trustgate.policy": decision.policy,
    "trustgate.rule": decision.rule,
    "trustgate.decision_id": a.decisionId,
    "trustgate.policy_version": a.policyVersion,
  });
  if (model !== null) {
    span.setAttributes({
      "trustgate.caller": model.source.principal,
      "trustgate.destination.namespace": model.destination.namespace,
      "trustgate.risk.level": model.sourceRiskAssessment().level,
    });
  }
  if (a.rejection !== null) span.setAttribute("trustgate.rejection", a.rejection.kind);
  const shadow = a.evaluation?.shadow;
  if (shadow) span.setAttribute("trustgate.shadow.decision", shadow.allowed ? "allow" : "deny");
}

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  authorize(request: CheckRequestMessage): Authorization {
    const started = performance.now();
    const decisionId = randomUUID();
    const { deps } = this;
    const set = deps.policies.current;
    let headers: Headers | null = null;
    let span: Span | null = null;
    if (deps.tracer) {
      headers = requestHeaders(request);
      const parent: Context | undefined = (headers && parentContext(headers)) ?? undefined;
      span = deps.tracer.startSpan("trustgate.check", { kind: SpanKind.SERVER }, parent);
    }
    let result: Authorization;
    try {
      result = decideCheck(request, set, deps, { dryRun: deps.dryRun, nowMs: Date.now(), decisionId });
    } catch (err) {
      deps.logger.error({ err, decision_id: decisionId }, "internal error while deciding; denying");
      span?.setStatus({ code: SpanStatusCode.ERROR, message: "internal error while deciding" });
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
    let trace: TraceIds | null = null;
    if (span !== null) {
      if (span.isRecording()) {
        describeSpan(span, result);
        // Our span inherits the caller's trace id as sent, upper-case B3 included; the line names it as exported.
        const ids = span.spanContext();
        trace = { traceId: lowerHex(ids.traceId), spanId: lowerHex(ids.spanId) };
      }
      span.end();
    }
    if (deps.decisionLog.shouldLog(final.allowed)) {
      // No span of ours was recorded: the line names the caller's span, read from its headers when it is formatted.
      if (trace === null) headers ??= requestHeaders(request);
      deps.decisionLog.write(result, durationMs, trace, trace === null ? headers : null);
    }
    return result;
  }
}
