/**
 * Prometheus metrics of runtime risk, on the server's registry. Labels have fixed, small value sets (levels,
 * directions): never a per-identity label. Gauges that describe state are computed at scrape time.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { RISK_LEVELS, type RiskLevel } from "../model/risk-view.js";

export type SharedDirection = "published" | "applied" | "dropped" | "invalid";

/** Why an event read from Redis was dropped. */
export type SharedRefusal = "malformed" | "unsigned" | "bad_signature" | "out_of_bounds";

export interface RiskMetricSources {
  levelCounts(): Record<RiskLevel, number>;
  /** Milliseconds since the feed was last heard, or since start-up when it never was. */
  feedAgeMs(): number;
  feedFresh(): boolean;
  /** 1 connected, 0 not; null without Redis sharing: then the gauge is not exported at all. */
  readonly redisConnected: (() => number) | null;
}

export class RiskMetrics {
  private readonly sharedEvents: Counter<"direction">;
  private readonly refusedEvents: Counter<"reason">;
  readonly clears: Counter;
  readonly levelChanges: Counter<"to">;

  constructor(registry: Registry, sources: RiskMetricSources) {
    const registers = [registry];
    this.sharedEvents = new Counter({
      name: "trustgate_risk_shared_events_total",
      help: "Risk events exchanged with other replicas through Redis (published, applied, dropped, invalid)",
      labelNames: ["direction"],
      registers,
    });
    this.refusedEvents = new Counter({
      name: "trustgate_risk_shared_events_refused_total",
      help: "Events read from Redis and dropped, by reason (malformed, unsigned, bad_signature, out_of_bounds)",
      labelNames: ["reason"],
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
    const redisConnected = sources.redisConnected;
    if (redisConnected !== null) {
      new Gauge({
        name: "trustgate_risk_redis_connected",
        help: "1 when risk sharing through Redis is connected, 0 when not (absent without Redis)",
        registers,
        collect() {
          this.set(redisConnected());
        },
      });
    }
  }

  shared(direction: SharedDirection, count = 1): void {
    this.sharedEvents.labels(direction).inc(count);
  }

  refused(reason: SharedRefusal): void {
    this.refusedEvents.labels(reason).inc();
  }
}
