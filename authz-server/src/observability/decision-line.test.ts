import { describe, expect, it } from "vitest";
import { type Decision, decision } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import { SENSITIVE_HEADERS } from "../model/sensitive-headers.js";
import {
  DecisionLineFormatter,
  type DecisionRecord,
  type LineFormat,
  loggedHeaders,
  MAX_HEADER_VALUE,
  type TraceIds,
  truncatedHeaderValue,
} from "./decision-line.js";

/** A small seeded generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Values that differ from each other in one character, need escaping, or are not ASCII: a memo keyed loosely would
// hand one of them the line part of another.
const PRINCIPALS = [
  "spiffe://cluster.local/ns/services/sa/order",
  "spiffe://cluster.local/ns/services/sa/orders",
  "spiffe://cluster.local/ns/services/sa/order\u2028",
  'spiffe://cluster.local/ns/a"b/sa/x',
  "",
];
const HOSTS = ["payment.services.svc.cluster.local:8080", "payment.services.svc.cluster.local:8081", "zahlung.büro"];
const FINGERPRINTS = ["", "sha256:aa", "sha256:ab"];

interface Shape {
  caller: string;
  destination: string;
  fingerprint: string;
  sourceIp: string;
  namespace: string;
  method: string;
  host: string;
  path: string;
  http: boolean;
  headers: Record<string, string>;
}

function requestModel(s: Shape): RequestModel {
  return {
    source: { principal: s.caller, certificateFingerprint: s.fingerprint, ip: s.sourceIp },
    destination: { principal: s.destination, namespace: s.namespace },
    http: s.http ? { method: s.method, path: s.path, host: s.host, headers: s.headers } : null,
  } as unknown as RequestModel;
}

/** What the line must say, key by key in the line's order, serialised by JSON.stringify. */
function expectedLine(
  record: DecisionRecord,
  durationMs: number,
  trace: TraceIds | null,
  nowMs: number,
  format: LineFormat,
  fields: Record<string, string | number>,
): string {
  const { decision: d, model } = record;
  const o: Record<string, unknown> = { level: "info", time: new Date(nowMs).toISOString(), service: "trustgate" };
  Object.assign(o, fields);
  Object.assign(o, { event: "decision", decision_id: record.decisionId });
  Object.assign(o, { decision: d.allowed ? "allow" : "deny", outcome: d.outcome, reason: d.reason, policy: d.policy });
  Object.assign(o, { rule: d.rule, policy_version: record.policyVersion });
  o.caller = model ? model.source.principal : (record.rejection?.principal ?? "");
  o.caller_verified = model !== null && model.source.principal !== "";
  if (model !== null) {
    if (model.source.certificateFingerprint !== "") o.certificate_fingerprint = model.source.certificateFingerprint;
    o.source_ip = model.source.ip;
    if (model.destination.principal !== "") o.destination = model.destination.principal;
    o.destination_namespace = model.destination.namespace;
  }
  const refused = model === null ? (record.rejection?.request ?? null) : null;
  if (refused !== null && refused.sourceIp !== "") o.source_ip = refused.sourceIp;
  const http = model !== null ? model.http : (refused?.http ?? null);
  if (http !== null) Object.assign(o, { method: http.method, host: http.host, path: http.path });
  if (trace !== null) Object.assign(o, { trace_id: trace.traceId, span_id: trace.spanId });
  if (http !== null && (!d.allowed || format.allowHeaders)) {
    o.headers = Object.fromEntries(
      Object.entries(http.headers).map(([k, v]) => [k, format.sensitiveHeaders.has(k) ? "[redacted]" : v]),
    );
  }
  const shadow = record.evaluation?.shadow ?? null;
  if (shadow !== null) {
    o.shadow = { decision: shadow.allowed ? "allow" : "deny", policy: shadow.policy, reason: shadow.reason };
  }
  if (record.evaluation?.audit) o.audit = record.evaluation.audit;
  Object.assign(o, { duration_ms: Math.round(durationMs * 1000) / 1000, msg: "decision" });
  return `${JSON.stringify(o)}\n`;
}

describe("DecisionLineFormatter", () => {
  it("writes, for any sequence of decisions, exactly the line of each one (the memos never leak a part)", () => {
    const fields = { worker: 2 };
    const format: LineFormat = { prefix: ',"worker":2', sensitiveHeaders: SENSITIVE_HEADERS, allowHeaders: false };
    const formatter = new DecisionLineFormatter(format);
    const next = random(20261207);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
    const decisions: Decision[] = [
      decision("allow", "matched", "services/allow", 0),
      decision("deny", 'denied by "x"', "services/deny", 1),
      decision("allow", "matched", "services/allow", 2),
    ];
    const shape: Shape = {
      caller: PRINCIPALS[0]!,
      destination: PRINCIPALS[1]!,
      fingerprint: "sha256:aa",
      sourceIp: "10.0.0.1",
      namespace: "services",
      method: "GET",
      host: HOSTS[0]!,
      path: "/a",
      http: true,
      headers: { authorization: "Bearer t", "x-a": "1" },
    };
    let nowMs = Date.UTC(2026, 11, 7, 18, 59, 59, 998);
    let version = "v1";
    let lines = 0;
    for (let i = 0; i < 5000; i++) {
      // Mostly repeats, as on one connection; then one thing changes.
      const change = next() < 0.6 ? -1 : Math.floor(next() * 12);
      if (change === 0) shape.caller = pick(PRINCIPALS);
      if (change === 1) shape.destination = pick(PRINCIPALS);
      if (change === 2) shape.fingerprint = pick(FINGERPRINTS);
      if (change === 3) shape.sourceIp = pick(["10.0.0.1", "10.0.0.2", "::1"]);
      if (change === 4) shape.namespace = pick(["services", "service", "büro"]);
      if (change === 5) shape.method = pick(["GET", "POST", "get"]);
      if (change === 6) shape.host = pick(HOSTS);
      if (change === 7) shape.path = pick(["/a", "/b\\c", "/ü"]);
      if (change === 8) shape.http = !shape.http;
      if (change === 9) version = pick(["v1", "v2", 'v"3']);
      nowMs += pick([0, 0, 1, 7, 999, 1000, 1001]);
      const rejected = change === 10;
      const record: DecisionRecord = {
        decisionId: `d${i}`,
        decision: pick(decisions),
        policyVersion: version,
        model: rejected ? null : requestModel(shape),
        rejection: rejected
          ? {
              principal: pick(PRINCIPALS),
              request: pick([
                null,
                { sourceIp: "", http: null },
                { sourceIp: shape.sourceIp, http: null },
                { sourceIp: "10.0.0.9", http: { ...shape, path: "/x/../y\u2028" } },
              ]),
            }
          : null,
        evaluation:
          change === 11
            ? { shadow: decision("deny", "shadow said no", "services/shadow", 0), audit: ["services/audit"] }
            : null,
      };
      const trace = next() < 0.5 ? { traceId: "a".repeat(32), spanId: `${i % 10}`.repeat(16) } : null;
      const duration = next() * 3;
      const line = formatter.line(record, duration, trace, nowMs);
      expect(line, `decision ${i}`).toBe(expectedLine(record, duration, trace, nowMs, format, fields));
      lines++;
    }
    expect(lines).toBe(5000);
  });

  it("gives a new caller its own name right after a line for another caller from the same source", () => {
    const format: LineFormat = { prefix: "", sensitiveHeaders: SENSITIVE_HEADERS, allowHeaders: false };
    const formatter = new DecisionLineFormatter(format);
    const base: Shape = {
      caller: "spiffe://cluster.local/ns/a/sa/one",
      destination: "spiffe://cluster.local/ns/b/sa/api",
      fingerprint: "sha256:aa",
      sourceIp: "10.0.0.1",
      namespace: "b",
      method: "GET",
      host: "api.b",
      path: "/",
      http: true,
      headers: {},
    };
    const record = (shape: Shape): DecisionRecord => ({
      decisionId: "d",
      decision: decision("allow", "ok", "b/p", 0),
      policyVersion: "v",
      model: requestModel(shape),
      rejection: null,
      evaluation: null,
    });
    const first = JSON.parse(formatter.line(record(base), 0.1, null, 0));
    const second = JSON.parse(
      formatter.line(record({ ...base, caller: "spiffe://cluster.local/ns/a/sa/two" }), 0.1, null, 0),
    );
    expect([first.caller, second.caller]).toEqual([
      "spiffe://cluster.local/ns/a/sa/one",
      "spiffe://cluster.local/ns/a/sa/two",
    ]);
  });

  it("cuts a header value past MAX_HEADER_VALUE characters, naming the bytes left out, and stays valid JSON", () => {
    const format: LineFormat = { prefix: "", sensitiveHeaders: SENSITIVE_HEADERS, allowHeaders: false };
    const formatter = new DecisionLineFormatter(format);
    const huge = "\u0001".repeat(150_000);
    const headers = {
      "x-payload": huge,
      "x-small": "ok",
      authorization: "Bearer t",
      "x-emoji": `${"a".repeat(MAX_HEADER_VALUE - 1)}😀tail`,
    };
    const record: DecisionRecord = {
      decisionId: "d",
      decision: decision("deny", "no", "b/p", 0),
      policyVersion: "v",
      model: requestModel({
        caller: "spiffe://cluster.local/ns/a/sa/one",
        destination: "spiffe://cluster.local/ns/b/sa/api",
        fingerprint: "",
        sourceIp: "10.0.0.1",
        namespace: "b",
        method: "GET",
        host: "api.b",
        path: "/",
        http: true,
        headers,
      }),
      rejection: null,
      evaluation: null,
    };
    const line = formatter.line(record, 0.1, null, 0);
    expect(line.length).toBeLessThan(6 * MAX_HEADER_VALUE + 2 * MAX_HEADER_VALUE + 2048);
    const parsed = JSON.parse(line);
    expect(parsed.headers["x-payload"]).toBe(
      `${"\u0001".repeat(MAX_HEADER_VALUE)}…(${150_000 - MAX_HEADER_VALUE} bytes more)`,
    );
    expect(parsed.headers["x-small"]).toBe("ok");
    expect(parsed.headers.authorization).toBe("[redacted]");
    // The emoji's surrogate pair straddles the cut: it is kept whole on neither side, the value stays valid UTF-16.
    expect(parsed.headers["x-emoji"]).toBe(`${"a".repeat(MAX_HEADER_VALUE - 1)}…(8 bytes more)`);
    expect(truncatedHeaderValue("short")).toBe("short");
  });
});

describe("loggedHeaders", () => {
  it("redacts secrets and keeps every other header, even one named __proto__", () => {
    const headers = JSON.parse('{"authorization": "Bearer x", "__proto__": "p", "x-id": "1"}');
    const logged = loggedHeaders(headers, SENSITIVE_HEADERS);
    expect(logged.authorization).toBe("[redacted]");
    expect(Object.keys(logged)).toEqual(["authorization", "__proto__", "x-id"]);
    expect(JSON.parse(JSON.stringify(logged))).toMatchObject({ "x-id": "1" });
    expect(Object.hasOwn(logged, "__proto__")).toBe(true);
    const plain = { "x-id": "1" };
    expect(loggedHeaders(plain, SENSITIVE_HEADERS)).toBe(plain);
  });
});
