/**
 * One /metrics for the primary and all its workers: the primary's own registry (policy reloads, Falco risk, workers)
 * and every worker's (Checks, decisions, its process) added up with prom-client's AggregatorRegistry. Counters and
 * histograms are summed, so `trustgate_decisions_total` counts every worker's decisions; process gauges are summed
 * too (memory and CPU of the whole replica); the metrics that say how to aggregate (Node.js version, event-loop lag)
 * are taken as they say.
 */
import { AggregatorRegistry, type Registry } from "prom-client";
import type { MetricsSource } from "../http/health-routes.js";

export function clusterMetrics(primary: Registry, workers: () => Promise<unknown[]>): MetricsSource {
  return {
    contentType: primary.contentType,
    async metrics() {
      const [own, theirs] = await Promise.all([primary.getMetricsAsJSON(), workers()]);
      return AggregatorRegistry.aggregate([own, ...(theirs as object[])]).metrics();
    },
  };
}
