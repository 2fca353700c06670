/**
 * Wires one trustgate process together: configuration → policies, identity, risk → the Authorizer → the gRPC and
 * admin listeners; and takes it apart again on shutdown. Side effects live here and in the listeners only.
 */

import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import { Authorizer } from "../engine/authorizer.js";
import { CertificateSightings } from "../engine/certificate-sightings.js";
import { GrpcServer } from "../grpc/grpc-server.js";
import { AdminServer } from "../http/admin-server.js";
import { registerExplainRoutes } from "../http/explain-routes.js";
import { registerFalcoRoutes } from "../http/falco-routes.js";
import { type Readiness, registerHealthRoutes } from "../http/health-routes.js";
import { isLoopbackOnly } from "../http/listen.js";
import { registerRevocationRoutes } from "../http/revocation-routes.js";
import { registerRiskRoutes } from "../http/risk-routes.js";
import { Router } from "../http/router.js";
import { CertificateCache } from "../identity/certificate-cache.js";
import type { RevocationList } from "../identity/revocation-list.js";
import { sensitiveHeaders } from "../model/sensitive-headers.js";
import { DecisionLog } from "../observability/decision-log.js";
import { flushLogger, type Logger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { PolicyHolder } from "../policy/policy-holder.js";
import { loadWorkloadInventory, type WorkloadInventory } from "../workloads/workload-inventory.js";
import { createFalcoRisk, type FalcoRisk } from "./falco-risk.js";
import { PolicyLoader } from "./policy-loader.js";
import { PolicyMetrics } from "./policy-metrics.js";
import { PolicyWatcher, type WatcherStatus } from "./policy-watcher.js";
import type { PolicyWorkerOptions } from "./policy-worker-client.js";
import { compileOptionsOf, requestSettingsOf } from "./settings.js";
import { startTelemetry } from "./telemetry.js";

export interface RunningServer {
  readonly config: Config;
  readonly grpcPort: number;
  readonly httpAddress: string;
  readonly policies: PolicyHolder;
  readonly loader: PolicyLoader;
  readonly metrics: Metrics;
  readonly revocations: RevocationList;
  readonly inventory: WorkloadInventory;
  /** Falco ingest and runtime risk (engine, mapping, snapshot, Redis sharing). */
  readonly risk: FalcoRisk;
  /** The policy directory watcher's state, or null when watching is off. */
  readonly watcher: PolicyWatcher | null;
  reload(trigger: string): Promise<unknown>;
  stop(reason: string): Promise<void>;
}

function defaultTrustDomain(config: Config): string {
  return config.identity.trustDomains[0] ?? config.falco.mapping.trustDomain;
}

export interface ServerOptions {
  /** Options of the policy worker thread (tests running from TypeScript sources give it a loader). */
  readonly policyWorker?: PolicyWorkerOptions;
}

/** `env` carries the standard `OTEL_*` variables for tracing and decision-log shipping. */
export async function startServer(
  config: Config,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const metrics = new Metrics();
  metrics.dryRun.set(config.policies.dryRun ? 1 : 0);
  const policyMetrics = new PolicyMetrics(metrics.registry);
  const policies = new PolicyHolder();
  const policyDirs = [config.policies.dir, ...config.policies.extraDirs];
  const requestSettings = requestSettingsOf(config);

  const loadedInventory = await loadWorkloadInventory(config.workloads.file, defaultTrustDomain(config), config.yaml);
  if (!loadedInventory.ok) throw new Error(loadedInventory.error);
  const inventory = loadedInventory.inventory;
  const loader = new PolicyLoader({
    dirs: policyDirs,
    rootNamespace: config.policies.rootNamespace,
    limits: config.yaml,
    lint: {
      workloads: inventory.workloads,
      trustDomains: [...config.identity.trustDomains, defaultTrustDomain(config)],
      request: requestSettings,
    },
    compile: compileOptionsOf(config),
    holder: policies,
    metrics,
    policyMetrics,
    logger,
    worker: options.policyWorker,
  });
  const watcher = config.policies.watch
    ? new PolicyWatcher(policyDirs, (t) => loader.reload(t), logger, {
        stabilityMs: config.policies.watchStabilityMs,
        pollMs: config.policies.watchPollSeconds * 1000,
        onStatus: (status) => policyMetrics.watcherUp.set(status.state === "watching" ? 1 : 0),
      })
    : null;
  await watcher?.prime();
  try {
    await loader.loadInitial();
  } catch (err) {
    await loader.close();
    throw err;
  }
  const labelsOf = inventory.size > 0 ? (id: string) => inventory.labelsOf(id) : undefined;
  const adminToken = await readSecret(config.http.adminToken, config.http.adminTokenFile, "http.adminToken");
  const falcoRisk = await createFalcoRisk({ config, registry: metrics.registry, inventory, logger });
  const risk = falcoRisk.engine;
  const revocations = falcoRisk.revocations.list;
  const sightings = new CertificateSightings();
  const dryRun = config.policies.dryRun;
  if (dryRun) logger.warn("global dry-run mode is ON: decisions are logged and counted but nothing is enforced");

  const telemetry = await startTelemetry(config, env, metrics, logger);
  const decisionLog = new DecisionLog(
    logger,
    {
      mode: config.log.decisions,
      sampleRate: config.log.sampleRate,
      sensitiveHeaders: sensitiveHeaders(config.log.redactHeaders),
      allowHeaders: config.log.allowHeaders,
    },
    Math.random,
    telemetry.shipper,
  );
  const authorizer = new Authorizer({
    policies,
    identity: {
      trustDomains: new Set(config.identity.trustDomains),
      trustFilterHeaders: config.identity.trustFilterHeaders,
      filterIdentityWithoutPeer: config.identity.filterIdentityWithoutPeer,
      revocations,
    },
    certificates: new CertificateCache(),
    risk,
    labelsOf,
    request: requestSettings,
    metrics,
    decisionLog,
    logger,
    dryRun,
    sightings,
    tracer: telemetry.tracing.tracer,
  });

  const readiness: Readiness = {
    shuttingDown: false,
    dryRun,
    get lastReloadError() {
      return loader.lastError;
    },
    get watcher(): WatcherStatus | null {
      return watcher?.status ?? null;
    },
  };
  const router = new Router();
  registerHealthRoutes(router, policies, metrics, readiness);
  registerRevocationRoutes(router, {
    revocations: falcoRisk.revocations,
    adminToken,
    trustFilterHeaders: config.identity.trustFilterHeaders,
    sightings,
    logger,
  });
  registerFalcoRoutes(router, falcoRisk.endpoint);
  registerRiskRoutes(router, falcoRisk.risk, adminToken, logger);
  registerExplainRoutes(router, {
    policies,
    risk,
    trustDomains: config.identity.trustDomains,
    labelsOf,
    request: requestSettings,
    dryRun,
    adminToken,
    loopbackOnly: isLoopbackOnly(config.http.addr),
  });
  const admin = new AdminServer(router, logger);
  const grpc = new GrpcServer({
    address: config.grpc.addr,
    maxMessageBytes: config.grpc.maxMessageBytes,
    authorizer,
    logger,
  });

  await watcher?.start();

  // Risk state is restored (snapshot, other replicas) before the first Check is answered.
  await falcoRisk.start();
  const grpcPort = await grpc.listen();
  const httpBound = await admin.listen(config.http.addr);
  const httpAddress = typeof httpBound === "string" ? `unix:${httpBound}` : `${httpBound.address}:${httpBound.port}`;
  grpc.setServing(true);
  logger.info(
    {
      event: "trustgate serving",
      grpc: config.grpc.addr,
      grpc_port: grpcPort,
      http: httpAddress,
      policy_version: policies.current?.version,
    },
    `trustgate serving: gRPC ${config.grpc.addr}, admin HTTP ${httpAddress}`,
  );

  let stopping: Promise<void> | null = null;
  return {
    config,
    grpcPort,
    httpAddress,
    policies,
    loader,
    metrics,
    revocations,
    inventory,
    risk: falcoRisk,
    watcher,
    reload: (trigger) => loader.reload(trigger),
    stop(reason) {
      stopping ??= (async () => {
        logger.info(
          { event: "shutting down", reason },
          `shutting down (${reason}): reporting NOT_SERVING, finishing in-flight calls`,
        );
        readiness.shuttingDown = true;
        await watcher?.stop();
        await loader.close();
        grpc.setServing(false);
        await grpc.shutdown(config.shutdownGraceSeconds * 1000);
        await admin.close();
        await falcoRisk.stop();
        logger.info({ event: "stopped" }, "stopped");
        decisionLog.flush();
        await telemetry.shutdown();
        flushLogger(logger);
      })();
      return stopping;
    },
  };
}
