/**
 * OpenTelemetry tracing, configured by the standard `OTEL_*` environment variables and OFF unless
 * `OTEL_TRACES_EXPORTER` names an exporter: then every Check gets a `trustgate.check` span. The SDK is imported only
 * when tracing is on, so a deployment without it pays nothing.
 *
 * Supported: `OTEL_TRACES_EXPORTER` = `otlp` (OTLP over HTTP with protobuf; `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`,
 * `_HEADERS`, `_TIMEOUT`, `_COMPRESSION`), `console`, or `none`; `OTEL_TRACES_SAMPLER[_ARG]` (default
 * `parentbased_always_on`: follow the caller's sampling decision); `OTEL_SERVICE_NAME` (default `trustgate`) and
 * `OTEL_RESOURCE_ATTRIBUTES`; `OTEL_SDK_DISABLED=true` turns it all off.
 */
import type { Tracer } from "@opentelemetry/api";

type Env = Readonly<Record<string, string | undefined>>;

export interface Tracing {
  /** null when tracing is off. */
  readonly tracer: Tracer | null;
  /** What was configured, for the start-up log line. */
  readonly description: string;
  shutdown(): Promise<void>;
}

export type TracingResult = { ok: true; tracing: Tracing } | { ok: false; error: string };

const OFF: Tracing = { tracer: null, description: "off", shutdown: async () => {} };

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
}

export async function startTracing(env: Env): Promise<TracingResult> {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return { ok: true, tracing: OFF };
  const exporters = list(env.OTEL_TRACES_EXPORTER).filter((e) => e !== "none");
  if (exporters.length === 0) return { ok: true, tracing: OFF };
  for (const e of exporters) {
    if (e !== "otlp" && e !== "console") {
      return { ok: false, error: `OTEL_TRACES_EXPORTER: "${e}" is not supported (use otlp, console or none)` };
    }
  }
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    "http/protobuf"
  ).trim();
  if (exporters.includes("otlp") && protocol !== "http/protobuf") {
    return {
      ok: false,
      error: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "${protocol}" is not supported (trustgate exports OTLP as http/protobuf)`,
    };
  }

  const [{ BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter }, resources] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
  ]);
  const processors = [];
  const described: string[] = [];
  for (const e of exporters) {
    if (e === "otlp") {
      const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
      processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
      described.push(
        `otlp ${env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318"}`,
      );
    } else {
      processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
      described.push("console");
    }
  }
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ "service.name": "trustgate" }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  return {
    ok: true,
    tracing: {
      tracer: provider.getTracer("trustgate"),
      description: described.join(", "),
      shutdown: () => provider.shutdown(),
    },
  };
}
