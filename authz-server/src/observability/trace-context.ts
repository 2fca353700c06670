/**
 * The trace a request belongs to, from the headers Envoy forwards in the CheckRequest: W3C `traceparent`/
 * `tracestate`, or B3 as Istio's Zipkin-compatible tracing sends it (`b3` single header or `x-b3-*`). W3C wins when
 * both are present. Parsing is OpenTelemetry's own propagators'; a request without any trace header costs three
 * property lookups.
 */
import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { CompositePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { B3Propagator } from "@opentelemetry/propagator-b3";

type Headers = Readonly<Record<string, string>>;

const getter: TextMapGetter<Headers> = {
  get: (carrier, key) => (Object.hasOwn(carrier, key) ? carrier[key] : undefined),
  keys: (carrier) => Object.keys(carrier),
};

// Extraction runs in order, each on the previous result: W3C last so it wins over B3.
const propagator = new CompositePropagator({ propagators: [new B3Propagator(), new W3CTraceContextPropagator()] });

export function hasTraceHeaders(headers: Headers): boolean {
  return (
    Object.hasOwn(headers, "traceparent") || Object.hasOwn(headers, "x-b3-traceid") || Object.hasOwn(headers, "b3")
  );
}

/** The caller's span as an OpenTelemetry context to parent a span on, or null without a valid trace context. */
export function parentContext(headers: Headers): Context | null {
  if (!hasTraceHeaders(headers)) return null;
  const context = propagator.extract(ROOT_CONTEXT, headers, getter);
  const span = trace.getSpanContext(context);
  return span !== undefined && isSpanContextValid(span) ? context : null;
}

/** The caller's span context itself (trace id, span id), or null. */
export function parentSpanContext(headers: Headers): SpanContext | null {
  const context = parentContext(headers);
  return context === null ? null : (trace.getSpanContext(context) ?? null);
}
