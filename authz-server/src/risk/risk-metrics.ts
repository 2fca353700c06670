/**
 * Prometheus metrics of Falco ingest and runtime risk, on the server's registry. Every label has a fixed, small set
 * of values (priorities, mapping outcomes, reasons, levels): never a per-identity label. Label children are created
 * up front so counting an alert does not build label keys. Gauges that describe state are computed at scrape time.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { UNATTRIBUTED_REASONS, type UnattributedReason } from "../falco/mapping/workload-mapper.js";
import { FALCO_PRIORITIES, type FalcoPriority, RISK_LEVELS, type RiskLevel } from "./risk-view.js";

export type MappingLabel = "mapped" | "unattributed" | "internal";
export type IngestRejection = "unauthenticated" | "invalid" | "too_large" | "rate_limited" | "not_configured";
export type SharedDirection = "published" | "applied" | "dropped" | "invalid";

export interface RiskMetricSources {
  levelCounts(): Record<RiskLevel, number>;
  /** Milliseconds since the feed was last heard, or since start-up when it never was. */
  feedAgeMs(): number;
  feedFresh(): boolean;
  redisConnected(): number | null;
  kubernetesPods(): number | null;
}

const MAPPINGS: readonly MappingLabel[] = ["mapped", "unattributed", "internal"];

export class RiskMetrics {
  private readonly alertChildren = new Map<string, { inc(n?: number): void }>();
  private readonly unattributedChildren = new Map<string, { inc(): void }>();
  readonly rejections: Counter<"reason">;
  readonly shared: Counter<"direction">;
  readonly clears: Counter;
  readonly levelChanges: Counter<"to">;

  constructor(registry: Registry, sources: RiskMetricSources) {
    const registers = [registry];
    const alerts = new Counter({
      name: "trustgate_falco_alerts_total",
      help: "Falco alerts accepted, by priority and mapping outcome (mapped to a workload, unattributed, internal)",
      labelNames: ["priority", "mapping"],
      registers,
    });
    for (const p of FALCO_PRIORITIES) {
      for (const m of MAPPINGS) this.alertChildren.set(`${p}/${m}`, alerts.labels(p, m));
    }
    const unattributed = new Counter({
      name: "trustgate_falco_unattributed_alerts_total",
      help: "Alerts no workload could be found for, by reason (they add risk to nobody)",
      labelNames: ["reason"],
      registers,
    });
    for (const r of UNATTRIBUTED_REASONS) this.unattributedChildren.set(r, unattributed.labels(r));
    this.rejections = new Counter({
      name: "trustgate_falco_ingest_rejections_total",
      help: "Requests to the Falco ingest endpoint refused, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.shared = new Counter({
      name: "trustgate_risk_shared_events_total",
      help: "Risk events exchanged with other replicas through Redis (published, applied, dropped, invalid)",
      labelNames: ["direction"],
      registers,
    });
    this.clears = new Counter({
      name: "trustgate_risk_operator_clears_total",
      help: "Workloads cleared by an operator (DELETE /v1/risk)",
      registers,
    });
    this.levelChanges = new Counter({
      name: "trustgate_risk_level_changes_total",
      help: "Risk level changes caused by alerts, by the new level",
      labelNames: ["to"],
      registers,
    });
    new Gauge({
      name: "trustgate_risk_identities",
      help: "Workloads with retained Falco alerts, by current risk level",
      labelNames: ["level"],
      registers,
      collect() {
        const counts = sources.levelCounts();
        for (const level of RISK_LEVELS) this.labels(level).set(counts[level]);
      },
    });
    new Gauge({
      name: "trustgate_falco_feed_age_seconds",
      help: "Seconds since the Falco feed was last heard (alert or heartbeat); since start-up if never",
      registers,
      collect() {
        this.set(sources.feedAgeMs() / 1000);
      },
    });
    new Gauge({
      name: "trustgate_falco_feed_fresh",
      help: "1 when the Falco feed is fresh (heard within risk.staleAfterSeconds), 0 when stale",
      registers,
      collect() {
        this.set(sources.feedFresh() ? 1 : 0);
      },
    });
    new Gauge({
      name: "trustgate_risk_redis_connected",
      help: "1 when risk sharing through Redis is connected, 0 when not (absent without Redis)",
      registers,
      collect() {
        const v = sources.redisConnected();
        if (v === null) this.reset();
        else this.set(v);
      },
    });
    new Gauge({
      name: "trustgate_falco_kubernetes_pods",
      help: "Pods in the Kubernetes mapping's watch cache (absent with other mappings)",
      registers,
      collect() {
        const v = sources.kubernetesPods();
        if (v === null) this.reset();
        else this.set(v);
      },
    });
  }

  alert(priority: FalcoPriority, mapping: MappingLabel): void {
    this.alertChildren.get(`${priority}/${mapping}`)!.inc();
  }

  unattributed(reason: UnattributedReason): void {
    this.unattributedChildren.get(reason)!.inc();
  }
}
