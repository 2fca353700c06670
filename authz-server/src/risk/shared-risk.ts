/**
 * This replica's runtime risk, kept in step with the other replicas (Redis) and the snapshot file: every change —
 * an alert accepted here, an operator clear, an event from another replica — goes through here, is applied to the
 * engine, published, logged when it changes a level, and marks the state for the next snapshot.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../observability/logger.js";
import { exportEngineState, importEngineState } from "./engine-state.js";
import { MAX_WEIGHT } from "./event-bounds.js";
import type { RedisRiskSharing } from "./redis-sharing.js";
import { explainAlert, type RiskAlert } from "./risk-alert.js";
import type { RecordResult, RiskEngine } from "./risk-engine.js";
import type { RiskMetrics } from "./risk-metrics.js";
import { allIdentitiesReport, type IdentityView, identityReport } from "./risk-report.js";
import type { SharedEvent } from "./shared-event.js";
import type { SnapshotStore } from "./snapshot-store.js";

export interface FeedView {
  readonly state: "fresh" | "stale";
  readonly lastHeard: string | null;
  readonly ageSeconds: number | null;
  readonly staleAfterSeconds: number;
}

export interface SharedRiskDeps {
  readonly engine: RiskEngine;
  readonly metrics: RiskMetrics;
  readonly logger: Logger;
  readonly replicaId: string;
  /** When this replica started (the feed's age counts from here until it is first heard). */
  readonly startedMs: number;
  readonly sharing: RedisRiskSharing | null;
  readonly snapshots: SnapshotStore | null;
}

/** Feed heartbeats are shared at most this often: any one of them proves the feed alive to every replica. */
const HEARD_PUBLISH_INTERVAL_MS = 1_000;

export class SharedRisk {
  private dirty = false;
  private saving: Promise<void> | null = null;
  private lastHeardPublishedMs = 0;
  private lastHeardMirroredMs = 0;
  private readonly mirrors: Array<(event: SharedEvent) => void> = [];

  constructor(private readonly deps: SharedRiskDeps) {}

  /**
   * Called with every change applied to the engine here, from whichever source (ingest, an operator, another
   * replica), as a shared event: worker processes replay them on their copy of the engine.
   */
  onApplied(listener: (event: SharedEvent) => void): void {
    this.mirrors.push(listener);
  }

  private mirror(event: SharedEvent): void {
    for (const listener of this.mirrors) listener(event);
  }

  /** Feed heartbeats reach the mirrors at most once a second (the feed is stale only after minutes). */
  private mirrorHeard(atMs: number): void {
    if (this.mirrors.length === 0 || atMs - this.lastHeardMirroredMs < HEARD_PUBLISH_INTERVAL_MS) return;
    this.lastHeardMirroredMs = atMs;
    this.mirror({ kind: "heard", origin: this.deps.replicaId, atMs });
  }

  get engine(): RiskEngine {
    return this.deps.engine;
  }

  /** Restores the snapshot, then catches up with the other replicas. */
  async restore(): Promise<void> {
    const { snapshots, engine, logger, sharing } = this.deps;
    if (snapshots) {
      const state = await snapshots.load();
      if (state !== null) {
        importEngineState(engine, state);
        logger.info(
          { event: "risk snapshot loaded", file: snapshots.file, identities: engine.identityCount },
          `risk state restored from ${snapshots.file}`,
        );
      }
    }
    await sharing?.start();
  }

  /**
   * The final snapshot first (it must not depend on Redis being reachable), then a bounded last flush to Redis, then
   * the snapshot again if something arrived meanwhile.
   */
  async stop(): Promise<void> {
    await this.save(true);
    await this.deps.sharing?.stop();
    await this.save();
  }

  // --- alerts accepted on this replica (the Falco ingest's sink) --------------------------------------------------

  heard(atMs: number): void {
    this.deps.engine.heard(atMs);
    this.mirrorHeard(atMs);
    this.dirty = true;
    const { sharing, replicaId } = this.deps;
    if (sharing && atMs - this.lastHeardPublishedMs >= HEARD_PUBLISH_INTERVAL_MS) {
      this.lastHeardPublishedMs = atMs;
      sharing.publish({ kind: "heard", origin: replicaId, atMs });
    }
  }

  accept(incoming: RiskAlert): RecordResult {
    // Shared with the weight every replica can accept (others refuse a weight beyond the bound).
    const alert = incoming.weight > MAX_WEIGHT ? { ...incoming, weight: MAX_WEIGHT } : incoming;
    const result = this.apply(alert);
    if (this.deps.sharing && (result === "added" || result === "coalesced")) {
      this.deps.sharing.publish({ kind: "alert", origin: this.deps.replicaId, alert });
    }
    return result;
  }

  // --- operator views and actions (`/v1/risk`) --------------------------------------------------------------------

  feedView(): FeedView {
    const { engine } = this.deps;
    const last = engine.lastHeard();
    const now = engine.now();
    return {
      state: engine.feed(),
      lastHeard: last === null ? null : new Date(last).toISOString(),
      ageSeconds: last === null ? null : Math.max(0, (now - last) / 1000),
      staleAfterSeconds: engine.settings.staleAfterMs / 1000,
    };
  }

  /** Milliseconds since the feed was last heard, or since start-up when it never was. */
  feedAgeMs(): number {
    const { engine } = this.deps;
    return engine.now() - (engine.lastHeard() ?? this.deps.startedMs);
  }

  view(spiffeId: string): IdentityView {
    return identityReport(this.deps.engine, spiffeId);
  }

  viewAll(): IdentityView[] {
    return allIdentitiesReport(this.deps.engine);
  }

  /**
   * Clears a workload here and on every replica: the clear names the alerts this replica holds, so other replicas
   * remove those and keep any alert this one never saw. Returns the number of alerts removed locally.
   */
  clear(spiffeId: string): number {
    const { engine, metrics, sharing, replicaId } = this.deps;
    const id = `clear:${randomUUID()}`;
    const beforeMs = engine.now();
    const alertIds = engine.alertIds(spiffeId);
    const removed = engine.clear(spiffeId, alertIds, id, beforeMs);
    metrics.clears.inc();
    this.dirty = true;
    const event = { kind: "clear", origin: replicaId, id, spiffeId, beforeMs, alertIds } as const;
    sharing?.publish(event);
    this.mirror(event);
    return removed;
  }

  // --- events from other replicas ----------------------------------------------------------------------------------

  applyShared(event: SharedEvent): void {
    const { engine, logger } = this.deps;
    switch (event.kind) {
      case "alert":
        engine.heard(event.alert.receivedMs);
        this.apply(event.alert, event.origin);
        break;
      case "clear": {
        const removed = engine.clear(event.spiffeId, event.alertIds, event.id, event.beforeMs);
        this.mirror(event);
        this.dirty = true;
        logger.info(
          { event: "risk cleared by another replica", spiffe_id: event.spiffeId, removed_alerts: removed },
          `risk of ${event.spiffeId} cleared by an operator on another replica`,
        );
        break;
      }
      case "heard":
        engine.heard(event.atMs);
        this.mirrorHeard(event.atMs);
        break;
    }
  }

  // --- the snapshot file -------------------------------------------------------------------------------------------

  /** Writes the snapshot when something changed since the last one (always when `final`). */
  async save(final = false): Promise<void> {
    const { snapshots, engine, logger } = this.deps;
    if (snapshots === null) return;
    if (this.saving) await this.saving;
    if (!this.dirty && !final) return;
    this.dirty = false;
    this.saving = snapshots
      .save(exportEngineState(engine))
      .catch((err: unknown) => {
        this.dirty = true;
        logger.error(
          { event: "risk snapshot failed", file: snapshots.file, error: (err as Error).message },
          "could not write the risk snapshot",
        );
      })
      .finally(() => {
        this.saving = null;
      });
    await this.saving;
  }

  private apply(alert: RiskAlert, origin = this.deps.replicaId): RecordResult {
    const { engine, metrics, logger } = this.deps;
    const before = engine.assess(alert.spiffeId).level;
    const result = engine.record(alert);
    if (result === "added" || result === "coalesced") {
      this.dirty = true;
      this.mirror({ kind: "alert", origin, alert });
      const after = engine.assess(alert.spiffeId).level;
      if (after !== before) {
        metrics.levelChanges.labels(after).inc();
        logger.warn(
          {
            event: "risk level changed",
            spiffe_id: alert.spiffeId,
            from: before,
            to: after,
            alert: explainAlert(alert.rule, alert.priority, alert.time),
          },
          `Falco risk of ${alert.spiffeId}: ${before} → ${after}`,
        );
      }
    } else if (result === "capacity") {
      logger.warn(
        { event: "risk identity table full", spiffe_id: alert.spiffeId, max: engine.settings.maxIdentities },
        "risk identity table is full of riskier workloads (risk.maxIdentities); alert not recorded",
      );
    }
    return result;
  }
}
