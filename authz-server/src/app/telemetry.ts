/**
 * Wires the optional telemetry that leaves the process: OpenTelemetry traces (OTEL_* environment) and shipping
 * decision log lines to a collector (`log.ship: otlp`). Both are off by default and then load nothing.
 */
import type { Config } from "../config/schema.js";
import { type RunningShipper, startDecisionLogShipper } from "../observability/decision-log-shipper.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { startTracing, type Tracing } from "../observability/tracing.js";

export interface Telemetry {
  readonly tracing: Tracing;
  readonly shipper: RunningShipper | null;
  /** Exports what is still buffered (bounded by the exporters' own timeouts). */
  shutdown(): Promise<void>;
}

export async function startTelemetry(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
  metrics: Metrics,
  logger: Logger,
): Promise<Telemetry> {
  const traced = await startTracing(env);
  if (!traced.ok) throw new Error(traced.error);
  const { tracing } = traced;
  const shipper =
    config.log.ship === "otlp"
      ? await startDecisionLogShipper(
          {
            maxQueue: config.log.shipQueueSize,
            batchSize: config.log.shipBatchSize,
            intervalMs: config.log.shipIntervalMs,
          },
          metrics.decisionLogsShipped,
          env,
        )
      : null;
  logger.info(
    { event: "telemetry", traces: tracing.description, decision_log_ship: shipper?.endpoint ?? "off" },
    `traces: ${tracing.description}; decision logs shipped: ${shipper?.endpoint ?? "no (stdout only)"}`,
  );
  return {
    tracing,
    shipper,
    async shutdown() {
      await Promise.allSettled([tracing.shutdown(), shipper?.shutdown()]);
    },
  };
}
