/**
 * One structured log line per decision. Denies are always logged (unless decision logs are off); allows can be
 * sampled down under load. A deny line also carries the request headers (credentials such as authorization and
 * cookie redacted), the evidence an operator needs to investigate it; an allow line keeps to who, what and why, which
 * halves its size on the hot path (unless `allowHeaders` asks for them). When the request carried a trace context the
 * line names the trace and span, so a decision can be found from a trace and the other way round. Lines go to stdout
 * and, when a shipper is configured, to a collector as well.
 */
import pino from "pino";
import type { Decision } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import { redactHeaders, SENSITIVE_HEADERS } from "../model/sensitive-headers.js";
import { LineBatcher } from "./line-batcher.js";
import type { Logger } from "./logger.js";

export interface DecisionLogSettings {
  readonly mode: "all" | "deny" | "none";
  /** Fraction of allow decisions logged (0..1) when mode is "all". */
  readonly sampleRate: number;
  /** Header names whose values are replaced by `[redacted]` (default: the built-in list). */
  readonly sensitiveHeaders?: ReadonlySet<string>;
  /** Allow lines carry the request headers too (deny lines always do). */
  readonly allowHeaders?: boolean;
}

/** The trace a decision belongs to (ids in lower-case hex). */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

/** Somewhere else decision lines go besides stdout (a collector). */
export interface DecisionLineShipper {
  ship(line: string, record: DecisionRecord, trace: TraceIds | null): void;
}

/** What a decision line says: a structural subset of the engine's Authorization. */
export interface DecisionRecord {
  readonly decisionId: string;
  readonly decision: Decision;
  readonly policyVersion: string;
  readonly model: RequestModel | null;
  /** Set when the request was refused before a model could be built: the principal Envoy reported. */
  readonly rejection: { readonly principal: string } | null;
  readonly evaluation: { readonly shadow: Decision | null; readonly audit: readonly string[] | null } | null;
}

/** A JSON string literal; the common case (nothing to escape) skips JSON.stringify. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON must escape control characters; this finds them.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/;
function json(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function outcomeJson(d: Decision): string {
  return `{"decision":"${d.allowed ? "allow" : "deny"}","policy":${json(d.policy)},"reason":${json(d.reason)}}`;
}

export class DecisionLog {
  private readonly sink: LineBatcher | null;

  /**
   * Decision lines go to the logger's own destination, in the logger's format (level, time, service, msg), but are
   * serialised here: one template per line instead of pino's generic per-field walk, on the hottest path there is.
   */
  private readonly sensitive: ReadonlySet<string>;

  constructor(
    logger: Logger,
    private readonly settings: DecisionLogSettings,
    private readonly random: () => number = Math.random,
    private readonly shipper: DecisionLineShipper | null = null,
  ) {
    const stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym];
    this.sink = logger.isLevelEnabled("info") && stream ? new LineBatcher(stream) : null;
    this.sensitive = settings.sensitiveHeaders ?? SENSITIVE_HEADERS;
  }

  /** Hands any batched lines to the logger's destination (before shutdown). */
  flush(): void {
    this.sink?.flush();
  }

  shouldLog(allowed: boolean): boolean {
    const { mode, sampleRate } = this.settings;
    if (mode === "none" || this.sink === null) return false;
    if (!allowed) return true;
    if (mode === "deny") return false;
    return sampleRate >= 1 || this.random() < sampleRate;
  }

  write(record: DecisionRecord, durationMs: number, trace: TraceIds | null = null): void {
    const { decision, model } = record;
    const http = model?.http ?? null;
    const caller = model ? model.source.principal : (record.rejection?.principal ?? "");
    const shadow = record.evaluation?.shadow ?? null;
    const audit = record.evaluation?.audit ?? null;
    let line = `{"level":"info","time":"${new Date().toISOString()}","service":"trustgate","event":"decision"`;
    line += `,"decision_id":"${record.decisionId}","decision":"${decision.allowed ? "allow" : "deny"}"`;
    line += `,"outcome":"${decision.outcome}","reason":${json(decision.reason)},"policy":${json(decision.policy)}`;
    line += `,"rule":${decision.rule},"policy_version":${json(record.policyVersion)},"caller":${json(caller)}`;
    line += `,"caller_verified":${model !== null && model.source.principal !== ""}`;
    if (trace !== null) line += `,"trace_id":"${trace.traceId}","span_id":"${trace.spanId}"`;
    if (model !== null) {
      const { source, destination } = model;
      if (source.certificateFingerprint !== "") line += `,"certificate_fingerprint":"${source.certificateFingerprint}"`;
      line += `,"source_ip":${json(source.ip)}`;
      if (destination.principal !== "") line += `,"destination":${json(destination.principal)}`;
      line += `,"destination_namespace":${json(destination.namespace)}`;
    }
    if (http !== null) {
      line += `,"method":${json(http.method)},"path":${json(http.path)},"host":${json(http.host)}`;
      if (!decision.allowed || this.settings.allowHeaders === true) {
        line += `,"headers":${JSON.stringify(redactHeaders(http.headers, this.sensitive))}`;
      }
    }
    if (shadow !== null) line += `,"shadow":${outcomeJson(shadow)}`;
    if (audit !== null) line += `,"audit":${JSON.stringify(audit)}`;
    line += `,"duration_ms":${Math.round(durationMs * 1000) / 1000},"msg":"decision"}\n`;
    this.sink!.write(line);
    this.shipper?.ship(line, record, trace);
  }
}
