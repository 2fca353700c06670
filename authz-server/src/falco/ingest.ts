/**
 * Accepted Falco alerts → attributed risk alerts. Internal alerts (Falco's own messages, `source: internal`) never
 * add risk; every accepted alert, internal or not, is proof the feed is alive. Each other alert is mapped to the
 * workloads it is about (one for a syscall alert; the caller and the pod it reached into for a `k8s_audit` alert) or
 * counted as unattributed, weighed, and handed to the risk sink once per workload, which applies it before the HTTP
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
import { type AlertMapper, type Attributions, unattributedReason } from "./mapping/alert-mapper.js";
import { auditDedupTarget, K8S_AUDIT_SOURCE } from "./mapping/k8s-audit.js";
import { workloadValue } from "./mapping/workload-mapper.js";

/** Falco's periodic metrics snapshot (with `metrics.output_rule: true`): the feed's heartbeat. */
export const HEARTBEAT_RULE = "Falco internal: metrics snapshot";

export interface RiskSink {
  heard(atMs: number): void;
  accept(alert: RiskAlert): RecordResult;
}

export interface IngestSummary {
  accepted: number;
  /** Alerts attributed to at least one workload. */
  mapped: number;
  unattributed: number;
  internal: number;
  heartbeats: number;
  /** Risk added to a workload: one per mapped syscall alert, up to two per `k8s_audit` alert (caller and pod). */
  attributions: number;
  /** Distinct workloads the alerts were attributed to (at most 100 listed). */
  identities: string[];
}

export interface IngestDeps {
  readonly mapper: AlertMapper;
  readonly weights: WeightRules;
  readonly sink: RiskSink;
  readonly metrics: FalcoMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

const MAX_LISTED = 100;
const UNATTRIBUTED_LOG_INTERVAL_MS = 60_000;

/**
 * Repeats of one alert: same rule, same Falco host, same container (or pod when there is no container id); for an
 * audit alert, the same caller and target object.
 */
function dedupKey(alert: FalcoAlert): string {
  const fields = alert.outputFields;
  const where =
    alert.source === K8S_AUDIT_SOURCE
      ? auditDedupTarget(fields)
      : (workloadValue(fields, "container.id") ?? workloadValue(fields, "k8s.pod.name") ?? "");
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
      attributions: 0,
      identities: [],
    };
    sink.heard(receivedMs);

    // Map everything first; only Kubernetes cache misses are asynchronous. Internal alerts are about nobody (null).
    const mappings: Array<Attributions | Promise<Attributions> | null> = alerts.map((a) =>
      a.source === "internal" ? null : mapper.map(a),
    );
    if (mappings.some((m) => m instanceof Promise)) {
      const settled = await Promise.all(mappings);
      for (let i = 0; i < settled.length; i++) mappings[i] = settled[i]!;
    }

    const listed = new Set<string>();
    for (let i = 0; i < alerts.length; i++) {
      const alert = alerts[i]!;
      const attributions = mappings[i] as Attributions | null;
      if (attributions === null) {
        summary.internal += 1;
        if (alert.rule === HEARTBEAT_RULE) summary.heartbeats += 1;
        metrics.alert(alert.priority, "internal");
        continue;
      }
      let any = false;
      const id = alert.uuid !== "" ? `falcosidekick:${alert.uuid}` : randomUUID();
      for (const { subject, outcome } of attributions) {
        metrics.attribution(subject, outcome.ok);
        if (!outcome.ok) continue;
        any = true;
        const riskAlert: RiskAlert = {
          // One alert about two workloads is two risk alerts; the ids stay stable so a resent uuid applies once.
          id: subject === "workload" ? id : `${id}:${subject}`,
          spiffeId: outcome.spiffeId,
          rule: alert.rule,
          priority: alert.priority,
          time: alert.time,
          eventMs: Math.min(Math.max(alert.timeMs, receivedMs - MAX_ALERT_DELAY_MS), receivedMs),
          receivedMs,
          weight: alertWeight(alert, this.deps.weights),
          dedupKey: dedupKey(alert),
        };
        sink.accept(riskAlert);
        summary.attributions += 1;
        if (listed.size < MAX_LISTED) listed.add(outcome.spiffeId);
      }
      if (any) {
        summary.mapped += 1;
        metrics.alert(alert.priority, "mapped");
        // An audit alert attributed to its caller but not to the pod it reached into is still worth a log line.
        const missed = attributions.filter((a) => !a.outcome.ok);
        if (missed.length > 0) this.noteUnattributed(alert, unattributedReason(missed), receivedMs, true);
        continue;
      }
      const why = unattributedReason(attributions);
      summary.unattributed += 1;
      metrics.alert(alert.priority, "unattributed");
      metrics.unattributed(why.reason);
      this.noteUnattributed(alert, why, receivedMs, false);
    }
    summary.identities = [...listed];
    return summary;
  }

  /**
   * Unattributed alerts (and subjects) are logged at most once a minute (with a count), so a noisy host cannot flood
   * the log.
   */
  private noteUnattributed(
    alert: FalcoAlert,
    { reason, detail }: { reason: string; detail: string },
    now: number,
    partly: boolean,
  ): void {
    this.unattributedSinceLog += 1;
    if (now - this.lastUnattributedLogMs < UNATTRIBUTED_LOG_INTERVAL_MS) return;
    this.deps.logger.info(
      {
        event: partly ? "falco alert partly unattributed" : "falco alert unattributed",
        rule: alert.rule,
        priority: alert.priority,
        source: alert.source,
        hostname: alert.hostname,
        reason,
        detail,
        unattributed_since_last_log: this.unattributedSinceLog,
      },
      partly
        ? `Falco alert attributed to some of the workloads it is about, not all (${reason}): ${detail}`
        : `Falco alert not attributed to any workload (${reason}): ${detail}`,
    );
    this.lastUnattributedLogMs = now;
    this.unattributedSinceLog = 0;
  }
}
