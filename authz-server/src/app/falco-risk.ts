/**
 * Wires Falco runtime risk from configuration: the workload mapping, the risk engine the decision path reads, the
 * replica-shared state (risk snapshot file, revocation file, Redis), Falco ingest with its HTTP endpoint and optional
 * listener, and the periodic upkeep. Start-up order: restore state (revocations, risk, then what the other replicas
 * know), then start mapping and ingest, so the first Check already sees what was known.
 */
import { randomUUID } from "node:crypto";
import type { Registry } from "prom-client";
import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import { FalcoMetrics } from "../falco/falco-metrics.js";
import { FalcoIngest } from "../falco/ingest.js";
import { IngestLimits } from "../falco/ingest-limits.js";
import { AlertMapper } from "../falco/mapping/alert-mapper.js";
import { LabelMapper } from "../falco/mapping/label-mapper.js";
import { StaticMapper } from "../falco/mapping/static-mapper.js";
import type { WorkloadMapper } from "../falco/mapping/workload-mapper.js";
import type { FalcoEndpoint } from "../http/falco-routes.js";
import { falcoIngestHandler } from "../http/falco-routes.js";
import { ingestConfigured } from "../http/ingest-auth.js";
import { IngestListener } from "../http/ingest-listener.js";
import { RevocationList } from "../identity/revocation-list.js";
import type { KubernetesMapper } from "../kube/kubernetes-mapper.js";
import type { Logger } from "../observability/logger.js";
import { formatWarning } from "../policy-tools/lint.js";
import { lintWorkloads } from "../policy-tools/workload-lint.js";
import { EventSigner } from "../risk/event-signing.js";
import type { RedisRiskSharing } from "../risk/redis-sharing.js";
import { RevocationStore } from "../risk/revocation-store.js";
import { RiskEngine } from "../risk/risk-engine.js";
import { RiskMetrics } from "../risk/risk-metrics.js";
import { resolveRiskSettings } from "../risk/risk-settings.js";
import { SharedRevocations } from "../risk/shared-revocations.js";
import { SharedRisk } from "../risk/shared-risk.js";
import { SnapshotStore } from "../risk/snapshot-store.js";
import type { WorkloadInventory } from "../workloads/workload-inventory.js";
import { identityNamesOf } from "./settings.js";

export interface FalcoRiskDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly inventory: WorkloadInventory;
  readonly logger: Logger;
  readonly now?: () => number;
}

const SWEEP_INTERVAL_MS = 5_000;

// The Kubernetes client (about 30 MB of heap) and the Redis client are loaded only when the configuration uses them.
async function createMapper(config: Config, inventory: WorkloadInventory, logger: Logger): Promise<WorkloadMapper> {
  const { mapping } = config.falco;
  switch (mapping.strategy) {
    case "static":
      return new StaticMapper(inventory);
    case "label":
      return new LabelMapper(mapping.label, mapping.trustDomain);
    case "kubernetes": {
      const { KubernetesMapper } = await import("../kube/kubernetes-mapper.js");
      return new KubernetesMapper({
        trustDomain: mapping.trustDomain,
        kubeconfig: mapping.kubeconfig,
        maxPods: mapping.maxPods,
        logger,
      });
    }
  }
}

export interface FalcoRisk {
  readonly replicaId: string;
  readonly engine: RiskEngine;
  readonly risk: SharedRisk;
  /** Operator revocations (with the identities at critical risk): the list, its file and its sharing. */
  readonly revocations: SharedRevocations;
  readonly mapper: WorkloadMapper;
  readonly endpoint: FalcoEndpoint;
  /** What ingest answers wait for: with worker processes, until every worker has the ingested alerts. */
  settleWith(settled: () => Promise<void>): void;
  /** host:port (or unix path) of the separate ingest listener, when configured and started. */
  readonly ingestAddress: () => string | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createFalcoRisk(deps: FalcoRiskDeps): Promise<FalcoRisk> {
  const { config, logger, registry, inventory } = deps;
  const now = deps.now ?? Date.now;
  const replicaId = randomUUID();
  const token = await readSecret(config.falco.token, config.falco.tokenFile, "falco.token");
  const ingestSettings = config.falco.ingest;
  const credentials = {
    token,
    clientCertificates: ingestSettings.addr !== "" && (ingestSettings.tls?.clientCaFile ?? "") !== "",
  };
  const mapper = await createMapper(config, inventory, logger);
  const names = identityNamesOf(config);
  const engine = new RiskEngine(resolveRiskSettings(config.risk), now, names);
  const revocations = new SharedRevocations({
    list: new RevocationList(() => engine.criticalIdentities(), now, names),
    store: config.revocations.file ? new RevocationStore(config.revocations.file, logger) : null,
    logger,
    replicaId,
  });

  let sharing: RedisRiskSharing | null = null;
  const riskMetrics = new RiskMetrics(registry, {
    levelCounts: () => engine.levelCounts(),
    feedAgeMs: () => risk.feedAgeMs(),
    feedFresh: () => engine.feed() === "fresh",
    redisConnected: config.redis.url ? () => (sharing?.connected ? 1 : 0) : null,
  });
  if (config.redis.url) {
    const { RedisRiskSharing } = await import("../risk/redis-sharing.js");
    const eventKey = await readSecret(config.redis.eventKey, config.redis.eventKeyFile, "redis.eventKey");
    sharing = new RedisRiskSharing({
      url: config.redis.url,
      keyPrefix: config.redis.keyPrefix,
      streamMaxLen: config.redis.streamMaxLen,
      replicaId,
      apply: (event) => risk.applyShared(event),
      revocations,
      signer: new EventSigner(eventKey),
      logger,
      metrics: riskMetrics,
      now,
    });
    revocations.share(sharing);
  }
  const snapshots = config.risk.snapshotFile ? new SnapshotStore(config.risk.snapshotFile, logger) : null;
  const risk: SharedRisk = new SharedRisk({
    engine,
    metrics: riskMetrics,
    logger,
    replicaId,
    startedMs: now(),
    sharing,
    snapshots,
  });

  const falcoMetrics = new FalcoMetrics(
    registry,
    mapper.strategy === "kubernetes" ? () => (mapper as KubernetesMapper).pods.size : null,
  );
  const ingest = new FalcoIngest({
    mapper: new AlertMapper(mapper, config.falco.mapping.trustDomain),
    weights: engine.settings,
    sink: risk,
    metrics: falcoMetrics,
    logger,
    now,
  });
  let settled: () => Promise<void> = () => Promise.resolve();
  const endpoint: FalcoEndpoint = {
    ingest,
    credentials,
    maxBodyBytes: ingestSettings.maxBodyBytes,
    limits: new IngestLimits(ingestSettings),
    metrics: falcoMetrics,
    logger,
    settled: () => settled(),
  };
  const listener = ingestSettings.addr ? new IngestListener(falcoIngestHandler(endpoint), logger) : null;
  let ingestAddress: string | null = null;
  const timers: NodeJS.Timeout[] = [];

  return {
    replicaId,
    engine,
    risk,
    revocations,
    mapper,
    endpoint,
    settleWith(fn) {
      settled = fn;
    },
    ingestAddress: () => ingestAddress,

    async start() {
      await revocations.restore();
      await risk.restore();
      await mapper.start();
      if (listener) {
        const bound = await listener.listen(ingestSettings.addr, ingestSettings.tls);
        ingestAddress = typeof bound === "string" ? bound : `${bound.address}:${bound.port}`;
      }
      timers.push(setInterval(() => engine.sweep(), SWEEP_INTERVAL_MS).unref());
      if (snapshots) {
        timers.push(setInterval(() => void risk.save(), config.risk.snapshotIntervalSeconds * 1000).unref());
      }
      if (mapper.strategy === "static") {
        // Container names and pod prefixes are chosen by pod authors: overlaps let one workload's alerts land on another.
        for (const w of lintWorkloads(inventory.workloads, config.workloads.file)) {
          logger.warn({ event: "workload inventory overlap", code: w.code, workloads: w.policy }, formatWarning(w));
        }
      }
      if (!config.revocations.file) {
        logger.warn(
          { event: "revocations not durable", redis: sharing !== null },
          sharing
            ? "revocations.file is not set: operator revocations survive a restart only while Redis keeps them"
            : "revocations.file is not set: operator revocations are kept in memory only and forgotten on restart",
        );
      }
      const { trustDomains } = config.identity;
      const mappedTrustDomain = config.falco.mapping.trustDomain;
      if (trustDomains.length > 0 && !trustDomains.includes(mappedTrustDomain)) {
        logger.warn(
          { event: "falco trust domain not accepted", trust_domain: mappedTrustDomain, accepted: trustDomains },
          `falco.mapping.trustDomain ${mappedTrustDomain} is not in identity.trustDomains: identities built from Falco alerts (Kubernetes audit callers, the kubernetes and label strategies) never match a caller`,
        );
      }
      if (!ingestConfigured(credentials)) {
        logger.warn(
          { event: "falco ingest disabled" },
          "Falco ingest has no token and no client certificates configured: POST /v1/falco answers 401 to everything",
        );
      }
      logger.info(
        {
          event: "falco risk engine started",
          mapping: mapper.strategy,
          ingest: ingestAddress ?? "admin listener",
          ingest_tls: ingestSettings.tls !== undefined,
          redis: sharing ? sharing.streamKey : "off",
          redis_signed: sharing ? sharing.signed : false,
          snapshot: snapshots?.file ?? "off",
          revocations: config.revocations.file || "off",
          half_life_seconds: config.risk.halfLifeSeconds,
        },
        "Falco risk engine started",
      );
    },

    async stop() {
      for (const timer of timers) clearInterval(timer);
      await listener?.close();
      await risk.stop();
      await revocations.flush();
      await mapper.stop();
    },
  };
}
