/**
 * A decision as one JSON log line, in the logger's format (level, time, service, msg). Serialised by one template
 * instead of pino's generic per-field walk: this runs once per Check. Pure: the time and the fixed fields that
 * open every line (`prefix`, e.g. the worker number) are passed in.
 *
 * A deny line also carries the request headers (credentials redacted): the evidence an operator needs to investigate
 * it. An allow line keeps to who, what and why, unless `allowHeaders` asks for them. When the request carried a trace
 * context the line names the trace and span, so a decision can be found from a trace and the other way round.
 */
import type { Decision } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import { redactHeaders } from "../model/sensitive-headers.js";

/** The trace a decision belongs to (ids in lower-case hex). */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

export interface LineFormat {
  /** Fields after `service` on every line, as JSON text starting with a comma (e.g. `,"worker":2`); "" for none. */
  readonly prefix: string;
  /** Header names whose values are replaced by `[redacted]`. */
  readonly sensitiveHeaders: ReadonlySet<string>;
  /** Allow lines carry the request headers too (deny lines always do). */
  readonly allowHeaders: boolean;
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
export function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function outcomeJson(d: Decision): string {
  return `{"decision":"${d.allowed ? "allow" : "deny"}","policy":${jsonString(d.policy)},"reason":${jsonString(d.reason)}}`;
}

/**
 * The part of a line that depends on the decision only. Allow decisions are built once per rule and shared, so the
 * fragment is cached per Decision object.
 */
const decisionFragments = new WeakMap<Decision, string>();
function decisionFragment(d: Decision): string {
  let fragment = decisionFragments.get(d);
  if (fragment === undefined) {
    fragment = `,"decision":"${d.allowed ? "allow" : "deny"}","outcome":"${d.outcome}","reason":${jsonString(d.reason)},"policy":${jsonString(d.policy)},"rule":${d.rule}`;
    decisionFragments.set(d, fragment);
  }
  return fragment;
}

/** `{"level":"info","time":"…","service":"trustgate"<prefix>,"event":"decision",…,"msg":"decision"}\n` */
export function formatDecisionLine(
  record: DecisionRecord,
  durationMs: number,
  trace: TraceIds | null,
  isoTime: string,
  format: LineFormat,
): string {
  const { decision, model } = record;
  const http = model?.http ?? null;
  const caller = model ? model.source.principal : (record.rejection?.principal ?? "");
  const shadow = record.evaluation?.shadow ?? null;
  const audit = record.evaluation?.audit ?? null;
  let line = `{"level":"info","time":"${isoTime}","service":"trustgate"${format.prefix},"event":"decision","decision_id":"${record.decisionId}"`;
  line += decisionFragment(decision);
  line += `,"policy_version":${jsonString(record.policyVersion)},"caller":${jsonString(caller)}`;
  line += `,"caller_verified":${model !== null && model.source.principal !== ""}`;
  if (trace !== null) line += `,"trace_id":"${trace.traceId}","span_id":"${trace.spanId}"`;
  if (model !== null) {
    const { source, destination } = model;
    if (source.certificateFingerprint !== "") line += `,"certificate_fingerprint":"${source.certificateFingerprint}"`;
    line += `,"source_ip":${jsonString(source.ip)}`;
    if (destination.principal !== "") line += `,"destination":${jsonString(destination.principal)}`;
    line += `,"destination_namespace":${jsonString(destination.namespace)}`;
  }
  if (http !== null) {
    line += `,"method":${jsonString(http.method)},"path":${jsonString(http.path)},"host":${jsonString(http.host)}`;
    if (!decision.allowed || format.allowHeaders) {
      line += `,"headers":${JSON.stringify(redactHeaders(http.headers, format.sensitiveHeaders))}`;
    }
  }
  if (shadow !== null) line += `,"shadow":${outcomeJson(shadow)}`;
  if (audit !== null) line += `,"audit":${JSON.stringify(audit)}`;
  line += `,"duration_ms":${Math.round(durationMs * 1000) / 1000},"msg":"decision"}\n`;
  return line;
}
