/**
 * Ships decision log lines to an OpenTelemetry collector as OTLP log records (HTTP, protobuf, gzip), in addition to
 * stdout. Each record's body is the decision line itself (JSON), with the decision, policy and decision id as
 * attributes and the request's trace context on the record. OpenTelemetry's exporter does the protocol, compression
 * and retries with backoff; batching is its batch processor's. In front of it sits a bound: at most `maxQueue`
 * lines, and at most `maxQueueBytes` of them (a deny line carries the request's headers, so lines differ in size by
 * orders of magnitude), waiting or in flight. A burst beyond either drops lines and counts them: a Check never waits
 * for the collector and memory never grows without bound.
 */
import { ROOT_CONTEXT, type TraceFlags, trace } from "@opentelemetry/api";
import type { Logger as OtelLogger } from "@opentelemetry/api-logs";
import type { Counter } from "prom-client";
import type { DecisionLineShipper, DecisionRecord, TraceIds } from "./decision-log.js";

export interface ShipperSettings {
  /** Lines waiting or being exported at most; beyond that new lines are dropped (and counted). */
  readonly maxQueue: number;
  /** Characters (≈ bytes) of lines waiting or being exported at most; default DEFAULT_SHIP_QUEUE_BYTES. */
  readonly maxQueueBytes?: number;
  readonly batchSize: number;
  readonly intervalMs: number;
}

/** `trustgate_decision_logs_shipped_total{result}`: sent, dropped (buffer full), failed (export gave up). */
export type ShippedCounter = Counter<"result">;

export interface RunningShipper extends DecisionLineShipper {
  readonly endpoint: string;
  /** Lines accepted and not yet sent or failed. */
  readonly pending: number;
  /** Characters of those lines. */
  readonly pendingBytes: number;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const SAMPLED = 1 as TraceFlags;

/** 32 MiB of lines waiting for the collector, as much as stdout's own bound. */
export const DEFAULT_SHIP_QUEUE_BYTES = 32 * 1024 * 1024;

export async function startDecisionLogShipper(
  settings: ShipperSettings,
  counter: ShippedCounter,
  env: Env,
): Promise<RunningShipper> {
  const [{ LoggerProvider, BatchLogRecordProcessor }, { OTLPLogExporter }, { SeverityNumber }, resources, base] =
    await Promise.all([
      import("@opentelemetry/sdk-logs"),
      import("@opentelemetry/exporter-logs-otlp-proto"),
      import("@opentelemetry/api-logs"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/otlp-exporter-base"),
    ]);
  const sent = counter.labels("sent");
  const dropped = counter.labels("dropped");
  const failed = counter.labels("failed");
  const maxBytes = settings.maxQueueBytes ?? DEFAULT_SHIP_QUEUE_BYTES;
  let pending = 0;
  let pendingBytes = 0;

  // The exporter reads OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT, _HEADERS and _TIMEOUT; gzip unless told otherwise.
  const exporter = new OTLPLogExporter({
    compression:
      (env.OTEL_EXPORTER_OTLP_LOGS_COMPRESSION ?? env.OTEL_EXPORTER_OTLP_COMPRESSION) === "none"
        ? base.CompressionAlgorithm.NONE
        : base.CompressionAlgorithm.GZIP,
  });
  const exportBatch = exporter.export.bind(exporter);
  exporter.export = (records, done) =>
    exportBatch(records, (result) => {
      pending -= records.length;
      for (const r of records) pendingBytes -= (r.body as string).length;
      (result.code === 0 ? sent : failed).inc(records.length);
      done(result);
    });
  const provider = new LoggerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ "service.name": "trustgate" }))
      .merge(resources.detectResources({ detectors: [resources.envDetector] })),
    processors: [
      new BatchLogRecordProcessor(exporter, {
        maxQueueSize: settings.maxQueue,
        maxExportBatchSize: Math.min(settings.batchSize, settings.maxQueue),
        scheduledDelayMillis: settings.intervalMs,
      }),
    ],
  });
  const logger: OtelLogger = provider.getLogger("trustgate.decisions");

  return {
    endpoint:
      env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ?? `${env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318"}/v1/logs`,
    get pending() {
      return pending;
    },
    get pendingBytes() {
      return pendingBytes;
    },
    ship(line: string, record: DecisionRecord, ids: TraceIds | null): void {
      const body = line.endsWith("\n") ? line.slice(0, -1) : line;
      if (pending >= settings.maxQueue || pendingBytes + body.length > maxBytes) {
        dropped.inc();
        return;
      }
      pending += 1;
      pendingBytes += body.length;
      const { decision } = record;
      logger.emit({
        severityNumber: SeverityNumber.INFO,
        severityText: "INFO",
        eventName: "trustgate.decision",
        body,
        attributes: {
          "trustgate.decision": decision.allowed ? "allow" : "deny",
          "trustgate.policy": decision.policy,
          "trustgate.decision_id": record.decisionId,
        },
        context:
          ids === null
            ? ROOT_CONTEXT
            : trace.setSpanContext(ROOT_CONTEXT, { traceId: ids.traceId, spanId: ids.spanId, traceFlags: SAMPLED }),
      });
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
