/**
 * The trace a request belongs to, from the headers Envoy forwards in the CheckRequest: W3C `traceparent`/
 * `tracestate`, or B3 as Istio's Zipkin-compatible tracing sends it (`b3` single header or `x-b3-*`). W3C wins when
 * both are present. A request without any trace header costs three property lookups.
 *
 * Two readers: `parentContext` (to parent a span on, when tracing is on) uses OpenTelemetry's own propagators, loaded
 * on first use; `traceIdsOf` (for the decision line, on every logged Check whether tracing is on or not) reads the
 * same headers by the same rules without building an OpenTelemetry context, and is checked against the propagators
 * in the tests.
 */

import { createRequire } from "node:module";
import type { TextMapPropagator } from "@opentelemetry/api";
import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";

type Headers = Readonly<Record<string, string>>;

const getter: TextMapGetter<Headers> = {
  get: (carrier, key) => (Object.hasOwn(carrier, key) ? carrier[key] : undefined),
  keys: (carrier) => Object.keys(carrier),
};

const require = createRequire(import.meta.url);
let composite: TextMapPropagator | null = null;

/** The propagators (with @opentelemetry/core and its semantic conventions) load when first needed. */
function propagator(): TextMapPropagator {
  if (composite === null) {
    const core = require("@opentelemetry/core") as typeof import("@opentelemetry/core");
    const { B3Propagator } = require("@opentelemetry/propagator-b3") as typeof import("@opentelemetry/propagator-b3");
    // Extraction runs in order, each on the previous result: W3C last so it wins over B3.
    composite = new core.CompositePropagator({
      propagators: [new B3Propagator(), new core.W3CTraceContextPropagator()],
    });
  }
  return composite;
}

export function hasTraceHeaders(headers: Headers): boolean {
  return (
    Object.hasOwn(headers, "traceparent") || Object.hasOwn(headers, "x-b3-traceid") || Object.hasOwn(headers, "b3")
  );
}

/** The caller's span as an OpenTelemetry context to parent a span on, or null without a valid trace context. */
export function parentContext(headers: Headers): Context | null {
  if (!hasTraceHeaders(headers)) return null;
  const context = propagator().extract(ROOT_CONTEXT, headers, getter);
  const span = trace.getSpanContext(context);
  return span !== undefined && isSpanContextValid(span) ? context : null;
}

/** The caller's span context itself (trace id, span id), or null. */
export function parentSpanContext(headers: Headers): SpanContext | null {
  const context = parentContext(headers);
  return context === null ? null : (trace.getSpanContext(context) ?? null);
}

/** A trace and span id in lower-case hex, as decision lines carry them. */
export interface TraceIdPair {
  readonly traceId: string;
  readonly spanId: string;
}

// The rules of OpenTelemetry's W3C and B3 propagators, step for step.
const TRACEPARENT = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;
const B3_SINGLE = /((?:[0-9a-f]{16}){1,2})-([0-9a-f]{16})(?:-([01d](?![0-9a-f])))?(?:-([0-9a-f]{16}))?/;
const TRACE_ID = /^[0-9a-f]{32}$/i;
const SPAN_ID = /^[0-9a-f]{16}$/i;
const INVALID_TRACE_ID = "0".repeat(32);
const INVALID_SPAN_ID = "0".repeat(16);
const B3_SAMPLED = new Set(["true", "True", "1", "false", "False", "0"]);

const UPPER_HEX = /[A-F]/;

/**
 * A hex id in lower case, as decision lines carry it and as OTLP exports it (B3 and the propagators accept upper
 * case): the same string, no copy, unless it has an upper-case digit.
 */
export function lowerHex(id: string): string {
  return UPPER_HEX.test(id) ? id.toLowerCase() : id;
}

function ids(traceId: string, spanId: string): TraceIdPair | null {
  const valid =
    TRACE_ID.test(traceId) && traceId !== INVALID_TRACE_ID && SPAN_ID.test(spanId) && spanId !== INVALID_SPAN_ID;
  return valid ? { traceId: lowerHex(traceId), spanId: lowerHex(spanId) } : null;
}

function fromTraceparent(value: string): TraceIdPair | null {
  const m = TRACEPARENT.exec(value);
  if (m === null || (m[1] === "00" && m[5])) return null;
  return { traceId: m[2]!, spanId: m[3]! };
}

function fromB3(headers: Headers): TraceIdPair | null {
  const single = Object.hasOwn(headers, "b3") ? headers.b3! : "";
  if (single !== "") {
    const m = B3_SINGLE.exec(single);
    if (m === null) return null;
    const traceId = m[1]!.length === 32 ? m[1]! : `${INVALID_SPAN_ID}${m[1]!}`;
    return ids(traceId, m[2]!);
  }
  const traceId = Object.hasOwn(headers, "x-b3-traceid") ? headers["x-b3-traceid"]!.padStart(32, "0") : "";
  const spanId = Object.hasOwn(headers, "x-b3-spanid") ? headers["x-b3-spanid"]! : "";
  const sampled = Object.hasOwn(headers, "x-b3-sampled") ? headers["x-b3-sampled"]! : undefined;
  const debug = Object.hasOwn(headers, "x-b3-flags") && headers["x-b3-flags"] === "1";
  if (!debug && sampled !== undefined && !B3_SAMPLED.has(sampled)) return null;
  return ids(traceId, spanId);
}

/**
 * The caller's trace and span ids, exactly what `parentSpanContext` gives (W3C if valid, else B3) in lower case, without loading
 * or building any OpenTelemetry object: this runs for every logged decision.
 */
export function traceIdsOf(headers: Headers): TraceIdPair | null {
  if (!hasTraceHeaders(headers)) return null;
  const w3c = Object.hasOwn(headers, "traceparent") ? fromTraceparent(headers.traceparent!) : null;
  return w3c ?? fromB3(headers);
}
