/**
 * A decision as one JSON log line, in the logger's format (level, time, service, msg). Serialised by one template
 * instead of pino's generic per-field walk: this runs once per Check. Pure: the time and the fixed fields that
 * open every line (`prefix`, e.g. the worker number) are passed in.
 *
 * A deny line also carries the request headers (credentials redacted): the evidence an operator needs to investigate
 * it. An allow line keeps to who, what and why, unless `allowHeaders` asks for them. A header value longer than
 * MAX_HEADER_VALUE characters is cut there and ends in `…(N bytes more)`, so one request cannot make a line (and what
 * holds it: stdout's buffer, the shipper's queue) megabytes long. When the request carried a trace
 * context the line names the trace and span, so a decision can be found from a trace and the other way round.
 */
import type { Decision } from "../model/decision.js";
import type { RejectedRequest } from "../model/rejected-request.js";
import type { RequestModel } from "../model/request-model.js";
import { REDACTED } from "../model/sensitive-headers.js";

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
  /**
   * Set when the request was refused before a model could be built: the principal Envoy reported and, when the
   * request decoded, its source address and HTTP facts as sent.
   */
  readonly rejection: { readonly principal: string; readonly request?: RejectedRequest | null } | null;
  readonly evaluation: { readonly shadow: Decision | null; readonly audit: readonly string[] | null } | null;
}

/** Characters of a header value a decision line keeps; the rest is replaced by `…(N bytes more)`. */
export const MAX_HEADER_VALUE = 8192;

/** `value` cut to MAX_HEADER_VALUE characters (never inside a surrogate pair) with the UTF-8 bytes left out named. */
export function truncatedHeaderValue(value: string): string {
  if (value.length <= MAX_HEADER_VALUE) return value;
  let end = MAX_HEADER_VALUE;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1; // a high surrogate: keep the pair together
  return `${value.slice(0, end)}…(${Buffer.byteLength(value.slice(end), "utf8")} bytes more)`;
}

/**
 * Headers as a decision line carries them: credential values redacted, long values cut. The same object when neither
 * applies (the common case: one pass over the names and lengths, no copy).
 */
export function loggedHeaders(
  headers: Readonly<Record<string, string>>,
  sensitive: ReadonlySet<string>,
): Readonly<Record<string, string>> {
  let found = false;
  for (const name in headers) {
    if (sensitive.has(name) || headers[name]!.length > MAX_HEADER_VALUE) {
      found = true;
      break;
    }
  }
  if (!found) return headers;
  const copy: Record<string, string> = Object.create(null);
  for (const name in headers) copy[name] = sensitive.has(name) ? REDACTED : truncatedHeaderValue(headers[name]!);
  return copy;
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

/**
 * Formats decision lines: `{"level":"info","time":"…","service":"trustgate"<prefix>,"event":"decision",…,"msg":"decision"}\n`.
 *
 * Two memos keep the per-line work to what changes from one Check to the next (measured on the bench's line: 1.01 →
 * 0.67 µs and 2.6 → 1.5 KB of heap per line, formatting and encoding included):
 * - the line's opening (level, time, service, fixed fields), per millisecond;
 * - the part that says who called whom (policy version, caller, certificate, source, destination, method, host), kept
 *   for as long as consecutive lines repeat it — Checks on one Envoy connection mostly come from one caller to one
 *   destination. Every input of that part is compared (string equality), so a line never carries another call's part.
 */
export class DecisionLineFormatter {
  /** `{"level":"info","time":"2026-01-02T03:04:05.` for the current second, and when that second began. */
  private secondStartMs = Number.NaN;
  private secondPrefix = "";
  private headMs = Number.NaN;
  private head = "";
  private readonly afterTime: string;
  private who: WhoInputs | null = null;
  private whoFragment = "";

  constructor(private readonly format: LineFormat) {
    this.afterTime = `Z","service":"trustgate"${format.prefix},"event":"decision","decision_id":"`;
  }

  /** The line for a decision taken at `nowMs` (epoch milliseconds) that took `durationMs`. */
  line(record: DecisionRecord, durationMs: number, trace: TraceIds | null, nowMs: number): string {
    const { decision, model } = record;
    let line = `${this.headAt(nowMs)}${record.decisionId}"${decisionFragment(decision)}${this.whoPart(record)}`;
    let http: { readonly path: string; readonly headers: Readonly<Record<string, string>> } | null = null;
    if (model !== null) {
      http = model.http;
    } else {
      // A refused request: what it said, unchecked, outside the memo (refusals are rare and each one is evidence).
      const refused = record.rejection?.request ?? null;
      if (refused != null) {
        if (refused.sourceIp !== "") line += `,"source_ip":${jsonString(refused.sourceIp)}`;
        const sent = refused.http;
        if (sent !== null) line += `,"method":${jsonString(sent.method)},"host":${jsonString(sent.host)}`;
        http = sent;
      }
    }
    if (http !== null) line += `,"path":${jsonString(http.path)}`;
    if (trace !== null) line += `,"trace_id":"${trace.traceId}","span_id":"${trace.spanId}"`;
    if (http !== null && (!decision.allowed || this.format.allowHeaders)) {
      line += `,"headers":${JSON.stringify(loggedHeaders(http.headers, this.format.sensitiveHeaders))}`;
    }
    const shadow = record.evaluation?.shadow ?? null;
    const audit = record.evaluation?.audit ?? null;
    if (shadow !== null) line += `,"shadow":${outcomeJson(shadow)}`;
    if (audit !== null) line += `,"audit":${JSON.stringify(audit)}`;
    return `${line},"duration_ms":${Math.round(durationMs * 1000) / 1000},"msg":"decision"}\n`;
  }

  /** The opening up to the decision id's value; the time is `new Date(nowMs).toISOString()`. */
  private headAt(nowMs: number): string {
    if (nowMs === this.headMs) return this.head;
    let ms = nowMs - this.secondStartMs;
    if (!(ms >= 0 && ms < 1000)) {
      this.secondStartMs = nowMs - (nowMs % 1000);
      this.secondPrefix = `{"level":"info","time":"${new Date(this.secondStartMs).toISOString().slice(0, 20)}`;
      ms = nowMs - this.secondStartMs;
    }
    this.headMs = nowMs;
    this.head = `${this.secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}${this.afterTime}`;
    return this.head;
  }

  private whoPart(record: DecisionRecord): string {
    // Compared field by field against the record, so a repeat allocates nothing.
    const who = this.who;
    const { model } = record;
    const http = model?.http ?? null;
    if (
      who !== null &&
      record.policyVersion === who.policyVersion &&
      (model === null
        ? who.sourceIp === null && (record.rejection?.principal ?? "") === who.caller
        : model.source.principal === who.caller &&
          model.destination.principal === who.destination &&
          model.source.certificateFingerprint === who.fingerprint &&
          model.source.ip === who.sourceIp &&
          model.destination.namespace === who.namespace &&
          (http === null ? who.method === null : http.host === who.host && http.method === who.method))
    ) {
      return this.whoFragment;
    }
    this.who = whoInputs(record);
    this.whoFragment = whoJson(this.who);
    return this.whoFragment;
  }
}

/** Everything the who-called-whom part of a line is made of. */
interface WhoInputs {
  readonly policyVersion: string;
  readonly caller: string;
  readonly verified: boolean;
  /** null when the request was refused before a model was built (then the rest is null too). */
  readonly fingerprint: string | null;
  readonly sourceIp: string | null;
  readonly destination: string | null;
  readonly namespace: string | null;
  /** null without HTTP attributes. */
  readonly method: string | null;
  readonly host: string | null;
}

function whoInputs(record: DecisionRecord): WhoInputs {
  const { model } = record;
  const http = model?.http ?? null;
  return {
    policyVersion: record.policyVersion,
    caller: model ? model.source.principal : (record.rejection?.principal ?? ""),
    verified: model !== null && model.source.principal !== "",
    fingerprint: model ? model.source.certificateFingerprint : null,
    sourceIp: model ? model.source.ip : null,
    destination: model ? model.destination.principal : null,
    namespace: model ? model.destination.namespace : null,
    method: http ? http.method : null,
    host: http ? http.host : null,
  };
}

function whoJson(w: WhoInputs): string {
  let json = `,"policy_version":${jsonString(w.policyVersion)},"caller":${jsonString(w.caller)},"caller_verified":${w.verified}`;
  if (w.sourceIp !== null) {
    if (w.fingerprint !== "") json += `,"certificate_fingerprint":${jsonString(w.fingerprint!)}`;
    json += `,"source_ip":${jsonString(w.sourceIp)}`;
    if (w.destination !== "") json += `,"destination":${jsonString(w.destination!)}`;
    json += `,"destination_namespace":${jsonString(w.namespace!)}`;
  }
  if (w.method !== null) json += `,"method":${jsonString(w.method)},"host":${jsonString(w.host!)}`;
  return json;
}
