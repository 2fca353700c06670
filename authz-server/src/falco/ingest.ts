/**
 * Accepted Falco alerts → attributed risk alerts. Internal alerts (Falco's own messages, `source: internal`) never
 * add risk; every accepted alert, internal or not, is proof the feed is alive. Each other alert is mapped to a
 * workload (or counted as unattributed), weighed, and handed to the risk sink, which applies it before the HTTP
 * response is sent: the next Check already sees it.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../observability/logger.js";
import { MAX_ALERT_DELAY_MS } from "../risk/event-bounds.js";
import type { RiskAlert } from "../risk/risk-alert.js";
import type { RecordResult } from "../risk/risk-engine.js";
import { alertWeight, type WeightRules } from "../risk/scoring.js";
import type { FalcoAlert } from "./alert.js";
import type { FalcoMetrics } from "./falco-metrics.js";
import type { MappingOutcome, WorkloadMapper } from "./mapping/workload-mapper.js";
import { workloadValue } from "./mapping/workload-mapper.js";

/** Falco's periodic metrics snapshot (with `metrics.output_rule: true`): the feed's heartbeat. */
export const HEARTBEAT_RULE = "Falco internal: metrics snapshot";

export interface RiskSink {
  heard(atMs: number): void;
  accept(alert: RiskAlert): RecordResult;
}

export interface IngestSummary {
  accepted: number;
  mapped: number;
  unattributed: number;
  internal: number;
  heartbeats: number;
  /** Distinct workloads the alerts were attributed to (at most 100 listed). */
  identities: string[];
}

export interface IngestDeps {
  readonly mapper: WorkloadMapper;
  readonly weights: WeightRules;
  readonly sink: RiskSink;
  readonly metrics: FalcoMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

const MAX_LISTED = 100;
const UNATTRIBUTED_LOG_INTERVAL_MS = 60_000;
const INTERNAL: MappingOutcome = { ok: false, reason: "unknown-workload", detail: "internal" };

/** Repeats of one alert: same rule, same Falco host, same container (or pod when there is no container id). */
function dedupKey(alert: FalcoAlert): string {
  const where =
    workloadValue(alert.outputFields, "container.id") ?? workloadValue(alert.outputFields, "k8s.pod.name") ?? "";
  return `${alert.rule}\u0000${alert.hostname}\u0000${where}`;
}

export class FalcoIngest {
  private lastUnattributedLogMs = 0;
  private unattributedSinceLog = 0;
  private readonly now: () => number;

  constructor(private readonly deps: IngestDeps) {
    this.now = deps.now ?? Date.now;
  }

  async ingest(alerts: readonly FalcoAlert[]): Promise<IngestSummary> {
    const { mapper, sink, metrics } = this.deps;
    const receivedMs = this.now();
    const summary: IngestSummary = {
      accepted: alerts.length,
      mapped: 0,
      unattributed: 0,
      internal: 0,
      heartbeats: 0,
      identities: [],
    };
    sink.heard(receivedMs);

    // Map everything first; only Kubernetes cache misses are asynchronous.
    const outcomes: Array<MappingOutcome | Promise<MappingOutcome>> = alerts.map((a) =>
      a.source === "internal" ? INTERNAL : mapper.map(a.outputFields),
    );
    if (outcomes.some((o) => o instanceof Promise)) {
      const settled = await Promise.all(outcomes);
      for (let i = 0; i < settled.length; i++) outcomes[i] = settled[i]!;
    }

    const listed = new Set<string>();
    for (let i = 0; i < alerts.length; i++) {
      const alert = alerts[i]!;
      const outcome = outcomes[i] as MappingOutcome;
      if (outcome === INTERNAL) {
        summary.internal += 1;
        if (alert.rule === HEARTBEAT_RULE) summary.heartbeats += 1;
        metrics.alert(alert.priority, "internal");
        continue;
      }
      if (!outcome.ok) {
        summary.unattributed += 1;
        metrics.alert(alert.priority, "unattributed");
        metrics.unattributed(outcome.reason);
        this.noteUnattributed(alert, outcome.reason, outcome.detail, receivedMs);
        continue;
      }
      const riskAlert: RiskAlert = {
        id: alert.uuid !== "" ? `falcosidekick:${alert.uuid}` : randomUUID(),
        spiffeId: outcome.spiffeId,
        rule: alert.rule,
        priority: alert.priority,
        time: alert.time,
        eventMs: Math.min(Math.max(alert.timeMs, receivedMs - MAX_ALERT_DELAY_MS), receivedMs),
        receivedMs,
        weight: alertWeight(alert.rule, alert.priority, alert.tags, this.deps.weights),
        dedupKey: dedupKey(alert),
      };
      sink.accept(riskAlert);
      summary.mapped += 1;
      metrics.alert(alert.priority, "mapped");
      if (listed.size < MAX_LISTED) listed.add(outcome.spiffeId);
    }
    summary.identities = [...listed];
    return summary;
  }

  /** Unattributed alerts are logged at most once a minute (with a count), so a noisy host cannot flood the log. */
  private noteUnattributed(alert: FalcoAlert, reason: string, detail: string, now: number): void {
    this.unattributedSinceLog += 1;
    if (now - this.lastUnattributedLogMs < UNATTRIBUTED_LOG_INTERVAL_MS) return;
    this.deps.logger.info(
      {
        event: "falco alert unattributed",
        rule: alert.rule,
        priority: alert.priority,
        hostname: alert.hostname,
        reason,
        detail,
        unattributed_since_last_log: this.unattributedSinceLog,
      },
      `Falco alert not attributed to any workload (${reason}): ${detail}`,
    );
    this.lastUnattributedLogMs = now;
    this.unattributedSinceLog = 0;
  }
}
