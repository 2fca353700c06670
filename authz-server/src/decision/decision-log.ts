/**
 * One structured log line per decision. Denies are always logged (unless decision logs are off); allows can be
 * sampled down under load. Credential headers (authorization, cookie, …) are redacted.
 */
import type { Logger } from "../observability/logger.js";
import { redactHeaders } from "../observability/redaction.js";
import type { Decision } from "../policy/decision.js";
import type { RequestModel } from "../request/request-model.js";

export interface DecisionLogSettings {
  readonly mode: "all" | "deny" | "none";
  /** Fraction of allow decisions logged (0..1) when mode is "all". */
  readonly sampleRate: number;
}

export interface DecisionRecord {
  readonly decisionId: string;
  readonly decision: Decision;
  readonly policyVersion: string;
  readonly model: RequestModel | null;
  /** The principal Envoy reported when the request was refused before a model could be built. */
  readonly reportedPrincipal: string;
  readonly shadow: Decision | null;
  readonly audit: readonly string[] | null;
  readonly durationMs: number;
}

export class DecisionLog {
  constructor(
    private readonly logger: Logger,
    private readonly settings: DecisionLogSettings,
    private readonly random: () => number = Math.random,
  ) {}

  shouldLog(allowed: boolean): boolean {
    const { mode, sampleRate } = this.settings;
    if (mode === "none") return false;
    if (!allowed) return true;
    if (mode === "deny") return false;
    return sampleRate >= 1 || this.random() < sampleRate;
  }

  write(record: DecisionRecord): void {
    const { decision, model } = record;
    const http = model?.http ?? null;
    this.logger.info(
      {
        event: "decision",
        decision_id: record.decisionId,
        decision: decision.allowed ? "allow" : "deny",
        outcome: decision.outcome,
        reason: decision.reason,
        policy: decision.policy,
        rule: decision.rule,
        policy_version: record.policyVersion,
        caller: model ? model.source.principal : record.reportedPrincipal,
        caller_verified: model !== null && model.source.principal !== "",
        certificate_fingerprint: model?.source.certificateFingerprint || undefined,
        source_ip: model?.source.ip,
        destination: model?.destination.principal || undefined,
        destination_namespace: model?.destination.namespace,
        method: http?.method,
        path: http?.path,
        host: http?.host,
        headers: http ? redactHeaders(http.headers) : undefined,
        shadow: record.shadow
          ? {
              decision: record.shadow.allowed ? "allow" : "deny",
              policy: record.shadow.policy,
              reason: record.shadow.reason,
            }
          : undefined,
        audit: record.audit ?? undefined,
        duration_ms: Math.round(record.durationMs * 1000) / 1000,
      },
      "decision",
    );
  }
}
