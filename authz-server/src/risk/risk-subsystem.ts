/**
 * The Falco risk subsystem of one trustgate process, assembled from configuration: the engine the decision path
 * reads, the workload mapping, ingest (its HTTP endpoint and optional listener), operator operations, the snapshot
 * file, and sharing with other replicas through Redis. The server wires it in; this is where its side effects live.
 */
import { randomUUID } from "node:crypto";
import type { Registry } from "prom-client";
import { type Config, ConfigError, readSecret } from "../config/config.js";
import { FalcoIngest, type RiskSink } from "../falco/ingest.js";
import { type IngestCredentials, ingestConfigured } from "../falco/ingest-auth.js";
import { IngestListener } from "../falco/ingest-listener.js";
import { KubernetesMapper } from "../falco/mapping/kubernetes-mapper.js";
import { LabelMapper } from "../falco/mapping/label-mapper.js";
import { StaticMapper } from "../falco/mapping/static-mapper.js";
import type { WorkloadMapper } from "../falco/mapping/workload-mapper.js";
import { TokenBucket } from "../falco/token-bucket.js";
import { type FalcoEndpoint, falcoIngestHandler } from "../http/falco-routes.js";
import type { FeedView, RiskOperations } from "../http/risk-routes.js";
import { trustDomainError } from "../identity/spiffe-id.js";
import type { Logger } from "../observability/logger.js";
import type { WorkloadInventory } from "../workloads/workload-inventory.js";
import { RedisRiskSharing } from "./redis-sharing.js";
import { explainAlert, type RiskAlert } from "./risk-alert.js";
import { type IdentityView, type RecordResult, RiskEngine } from "./risk-engine.js";
import { RiskMetrics } from "./risk-metrics.js";
import { resolveRiskSettings } from "./risk-settings.js";
import type { SharedEvent } from "./shared-event.js";
import { SnapshotStore } from "./snapshot-store.js";

export interface RiskSubsystemDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly inventory: WorkloadInventory;
  readonly logger: Logger;
  readonly now?: () => number;
}

const SWEEP_INTERVAL_MS = 5_000;
const HEARD_PUBLISH_INTERVAL_MS = 1_000;

function createMapper(config: Config, inventory: WorkloadInventory, logger: Logger): WorkloadMapper {
  const { mapping } = config.falco;
  const tdError = trustDomainError(mapping.trustDomain);
  if (tdError) throw new ConfigError(`falco.mapping.trustDomain: ${tdError}`);
  switch (mapping.strategy) {
    case "static":
      return new StaticMapper(inventory);
    case "label":
      if (mapping.label === "") throw new ConfigError("falco.mapping.label: required with strategy label");
      return new LabelMapper(mapping.label, mapping.trustDomain);
    case "kubernetes":
      return new KubernetesMapper({
        trustDomain: mapping.trustDomain,
        kubeconfig: mapping.kubeconfig,
        maxPods: mapping.maxPods,
        logger,
      });
  }
}

export class RiskSubsystem implements RiskSink, RiskOperations {
  readonly replicaId = randomUUID();
  readonly engine: RiskEngine;
  readonly metrics: RiskMetrics;
  readonly ingest: FalcoIngest;
  readonly endpoint: FalcoEndpoint;
  /** host:port (or unix path) of the separate ingest listener, when configured and started. */
  ingestAddress: string | null = null;
  private readonly sharing: RedisRiskSharing | null;
  private readonly snapshots: SnapshotStore | null;
  private readonly listener: IngestListener | null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedMs: number;
  private dirty = false;
  private saving: Promise<void> | null = null;
  private lastHeardPublishedMs = 0;

  private constructor(
    private readonly deps: RiskSubsystemDeps,
    readonly mapper: WorkloadMapper,
    credentials: IngestCredentials,
  ) {
    const { config, logger, registry } = deps;
    const now = deps.now ?? Date.now;
    this.startedMs = now();
    const settings = resolveRiskSettings(config.risk);
    this.engine = new RiskEngine(settings, now);
    this.sharing = null;
    this.metrics = new RiskMetrics(registry, {
      levelCounts: () => this.engine.levelCounts(),
      feedAgeMs: () => now() - (this.engine.lastHeard() ?? this.startedMs),
      feedFresh: () => this.engine.feed() === "fresh",
      redisConnected: () => (this.sharing === null ? null : this.sharing.connected ? 1 : 0),
      kubernetesPods: () => (mapper instanceof KubernetesMapper ? mapper.pods.size : null),
    });
    this.ingest = new FalcoIngest({ mapper, weights: settings, sink: this, metrics: this.metrics, logger, now });
    const { ingest } = config.falco;
    this.endpoint = {
      ingest: this.ingest,
      credentials,
      maxBodyBytes: ingest.maxBodyBytes,
      bucket: new TokenBucket(ingest.ratePerSecond, ingest.burst, now),
      burst: ingest.burst,
      metrics: this.metrics,
      logger,
    };
    this.snapshots = config.risk.snapshotFile ? new SnapshotStore(config.risk.snapshotFile, logger) : null;
    this.listener = ingest.addr ? new IngestListener(falcoIngestHandler(this.endpoint), logger) : null;
    if (config.redis.url) {
      this.sharing = new RedisRiskSharing({
        url: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        streamMaxLen: config.redis.streamMaxLen,
        replicaId: this.replicaId,
        apply: (event) => this.applyShared(event),
        logger,
        metrics: this.metrics,
      });
    }
  }

  static async create(deps: RiskSubsystemDeps): Promise<RiskSubsystem> {
    const { falco } = deps.config;
    const token = await readSecret(falco.token, falco.tokenFile, "falco.token");
    const clientCertificates = falco.ingest.addr !== "" && (falco.ingest.tls?.clientCaFile ?? "") !== "";
    if (falco.ingest.tls && !falco.ingest.addr) {
      throw new ConfigError(
        "falco.ingest.tls: needs falco.ingest.addr (TLS is served on the separate ingest listener)",
      );
    }
    const mapper = createMapper(deps.config, deps.inventory, deps.logger);
    return new RiskSubsystem(deps, mapper, { token, clientCertificates });
  }

  /** Loads the snapshot, catches up with other replicas, starts the mapping, the ingest listener and upkeep. */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    if (this.snapshots) {
      const state = await this.snapshots.load();
      if (state !== null) {
        this.engine.importState(state);
        logger.info(
          { event: "risk snapshot loaded", file: this.snapshots.file, identities: this.engine.identityCount },
          `risk state restored from ${this.snapshots.file}`,
        );
      }
    }
    await this.sharing?.start();
    await this.mapper.start();
    if (this.listener) {
      const bound = await this.listener.listen(config.falco.ingest.addr, config.falco.ingest.tls);
      this.ingestAddress = typeof bound === "string" ? bound : `${bound.address}:${bound.port}`;
    }
    this.timers.push(setInterval(() => this.engine.sweep(), SWEEP_INTERVAL_MS).unref());
    if (this.snapshots) {
      this.timers.push(setInterval(() => void this.save(), config.risk.snapshotIntervalSeconds * 1000).unref());
    }
    if (!ingestConfigured(this.endpoint.credentials)) {
      logger.warn(
        { event: "falco ingest disabled" },
        "Falco ingest has no token and no client certificates configured: POST /v1/falco answers 401 to everything",
      );
    }
    logger.info(
      {
        event: "falco risk engine started",
        mapping: this.mapper.strategy,
        ingest: this.ingestAddress ?? "admin listener",
        ingest_tls: config.falco.ingest.tls !== undefined,
        redis: this.sharing ? this.sharing.streamKey : "off",
        snapshot: this.snapshots?.file ?? "off",
        half_life_seconds: config.risk.halfLifeSeconds,
      },
      "Falco risk engine started",
    );
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.listener?.close();
    await this.sharing?.stop();
    await this.save(true);
    await this.mapper.stop();
  }

  // --- RiskSink: alerts accepted on this replica -------------------------------------------------------------------

  heard(atMs: number): void {
    this.engine.heard(atMs);
    this.dirty = true;
    if (this.sharing && atMs - this.lastHeardPublishedMs >= HEARD_PUBLISH_INTERVAL_MS) {
      this.lastHeardPublishedMs = atMs;
      this.sharing.publish({ kind: "heard", origin: this.replicaId, atMs });
    }
  }

  accept(alert: RiskAlert): RecordResult {
    const result = this.apply(alert);
    if (this.sharing && (result === "added" || result === "coalesced")) {
      this.sharing.publish({ kind: "alert", origin: this.replicaId, alert });
    }
    return result;
  }

  // --- RiskOperations: the operator endpoints ------------------------------------------------------------------------

  feedView(): FeedView {
    const last = this.engine.lastHeard();
    const now = this.engine.now();
    return {
      state: this.engine.feed(),
      lastHeard: last === null ? null : new Date(last).toISOString(),
      ageSeconds: last === null ? null : Math.max(0, (now - last) / 1000),
      staleAfterSeconds: this.engine.settings.staleAfterMs / 1000,
    };
  }

  view(spiffeId: string): IdentityView {
    return this.engine.view(spiffeId);
  }

  viewAll(): IdentityView[] {
    return this.engine.viewAll();
  }

  clear(spiffeId: string): number {
    const id = `clear:${randomUUID()}`;
    const beforeMs = this.engine.now();
    const removed = this.engine.clear(spiffeId, beforeMs, id);
    this.metrics.clears.inc();
    this.dirty = true;
    this.sharing?.publish({ kind: "clear", origin: this.replicaId, id, spiffeId, beforeMs });
    return removed;
  }

  // --- internals ---------------------------------------------------------------------------------------------------

  private apply(alert: RiskAlert): RecordResult {
    const before = this.engine.assess(alert.spiffeId).level;
    const result = this.engine.record(alert);
    if (result === "added" || result === "coalesced") {
      this.dirty = true;
      const after = this.engine.assess(alert.spiffeId).level;
      if (after !== before) {
        this.metrics.levelChanges.labels(after).inc();
        this.deps.logger.warn(
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
      this.deps.logger.warn(
        { event: "risk identity table full", spiffe_id: alert.spiffeId, max: this.engine.settings.maxIdentities },
        "risk identity table is full of riskier workloads (risk.maxIdentities); alert not recorded",
      );
    }
    return result;
  }

  private applyShared(event: SharedEvent): void {
    switch (event.kind) {
      case "alert":
        this.engine.heard(event.alert.receivedMs);
        this.apply(event.alert);
        break;
      case "clear": {
        const removed = this.engine.clear(event.spiffeId, event.beforeMs, event.id);
        this.dirty = true;
        this.deps.logger.info(
          { event: "risk cleared by another replica", spiffe_id: event.spiffeId, removed_alerts: removed },
          `risk of ${event.spiffeId} cleared by an operator on another replica`,
        );
        break;
      }
      case "heard":
        this.engine.heard(event.atMs);
        break;
    }
  }

  private async save(final = false): Promise<void> {
    if (this.snapshots === null) return;
    if (this.saving) await this.saving;
    if (!this.dirty && !final) return;
    this.dirty = false;
    const snapshots = this.snapshots;
    this.saving = snapshots
      .save(this.engine.exportState())
      .catch((err: unknown) => {
        this.dirty = true;
        this.deps.logger.error(
          { event: "risk snapshot failed", file: snapshots.file, error: (err as Error).message },
          "could not write the risk snapshot",
        );
      })
      .finally(() => {
        this.saving = null;
      });
    await this.saving;
  }
}
