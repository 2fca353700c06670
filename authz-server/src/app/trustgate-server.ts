/**
 * Wires one trustgate process together: configuration → policies, identity, risk → the Authorizer → the gRPC and
 * admin listeners; and takes it apart again on shutdown. Side effects live here and in the listeners only.
 *
 * With `workers` > 1 this process is the primary: it keeps the admin and ingest listener, the policy files, Falco
 * risk and revocations, and the Checks are answered by worker processes (worker-pool.ts) that it keeps in step.
 */

import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import { CertificateSightings } from "../engine/certificate-sightings.js";
import { AdminServer } from "../http/admin-server.js";
import { registerExplainRoutes } from "../http/explain-routes.js";
import { registerFalcoRoutes } from "../http/falco-routes.js";
import { type Readiness, registerHealthRoutes } from "../http/health-routes.js";
import { registerRevocationRoutes } from "../http/revocation-routes.js";
import { registerRiskRoutes } from "../http/risk-routes.js";
import { Router } from "../http/router.js";
import type { RevocationList } from "../identity/revocation-list.js";
import type { LogDestination } from "../observability/log-destination.js";
import { flushLogger, type Logger, logDestinationOf } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { PolicyHolder } from "../policy/policy-holder.js";
import { formatWarning, lintPolicySet } from "../policy-tools/lint.js";
import { exportEngineState } from "../risk/engine-state.js";
import { loadWorkloadInventory, type WorkloadInventory } from "../workloads/workload-inventory.js";
import { type CheckServing, createCheckService } from "./check-service.js";
import { clusterMetrics } from "./cluster-metrics.js";
import { StateHub } from "./cluster-state.js";
import { createFalcoRisk, type FalcoRisk } from "./falco-risk.js";
import { PolicyLoader } from "./policy-loader.js";
import { PolicyWatcher } from "./policy-watcher.js";
import { compileOptionsOf, requestSettingsOf } from "./settings.js";
import { WorkerPool, type WorkersView } from "./worker-pool.js";

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
  /** The worker processes, when there are any (`workers` > 1). */
  workers(): WorkersView | null;
  reload(trigger: string): Promise<unknown>;
  stop(reason: string): Promise<void>;
}

/**
 * The worker processes and the state channels that keep them in step with this process: the active policy set's
 * sources on every swap, every change of Falco risk, every revocation record. Workers report back which Checks
 * carried a certificate (the revocation endpoint asks).
 */
function workerPool(deps: {
  count: number;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  output: LogDestination;
  policies: PolicyHolder;
  loader: PolicyLoader;
  inventory: WorkloadInventory;
  falcoRisk: FalcoRisk;
  revocations: RevocationList;
  sightings: CertificateSightings;
}): WorkerPool {
  const { config, policies, loader, falcoRisk, revocations } = deps;
  const hub = new StateHub();
  // The loader records the sources of a set before it swaps the set in, so both describe the same version.
  hub.register("policies", () => ({
    version: policies.current?.version ?? "",
    rootNamespace: config.policies.rootNamespace,
    sources: loader.activeSources,
  }));
  hub.register("risk", () => exportEngineState(falcoRisk.engine));
  hub.register("revocations", () => revocations.records());
  policies.onSwap(() => hub.replace("policies"));
  revocations.onApplied((record) => hub.event("revocations", record));
  falcoRisk.risk.onApplied((event) => hub.event("risk", event));
  return new WorkerPool({
    count: deps.count,
    config,
    workloads: deps.inventory.workloads,
    state: hub,
    logger: deps.logger,
    metrics: deps.metrics,
    output: deps.output,
    sightings: deps.sightings,
  });
}

function defaultTrustDomain(config: Config): string {
  return config.identity.trustDomains[0] ?? config.falco.mapping.trustDomain;
}

/**
 * `env` carries the standard `OTEL_*` variables for tracing and decision-log shipping. `workers`: processes answering
 * Checks; 1 = this process does (the configuration's `auto` is resolved by the caller).
 */
export async function startServer(
  config: Config,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
  workers = 1,
): Promise<RunningServer> {
  const logOutput = logDestinationOf(logger);
  const metrics = new Metrics({ droppedLogLines: () => logOutput.droppedLines });
  metrics.dryRun.set(config.policies.dryRun ? 1 : 0);
  const policies = new PolicyHolder();
  const policyDirs = [config.policies.dir, ...config.policies.extraDirs];
  const loader = new PolicyLoader(
    policyDirs,
    config.policies.rootNamespace,
    policies,
    metrics,
    logger,
    compileOptionsOf(config),
  );
  const requestSettings = requestSettingsOf(config);
  await loader.loadInitial();

  const loadedInventory = await loadWorkloadInventory(config.workloads.file, defaultTrustDomain(config));
  if (!loadedInventory.ok) throw new Error(loadedInventory.error);
  const inventory = loadedInventory.inventory;
  const labelsOf = inventory.size > 0 ? (id: string) => inventory.labelsOf(id) : undefined;
  const adminToken = await readSecret(config.http.adminToken, config.http.adminTokenFile, "http.adminToken");
  const falcoRisk = await createFalcoRisk({ config, registry: metrics.registry, inventory, logger });
  const risk = falcoRisk.engine;
  const revocations = falcoRisk.revocations.list;
  const sightings = new CertificateSightings();
  const dryRun = config.policies.dryRun;
  if (dryRun) logger.warn("global dry-run mode is ON: decisions are logged and counted but nothing is enforced");

  // Checks are answered here, or by worker processes that get this process's state.
  const pool =
    workers > 1
      ? workerPool({
          count: workers,
          config,
          logger,
          metrics,
          output: logOutput,
          policies,
          loader,
          inventory,
          falcoRisk,
          revocations,
          sightings,
        })
      : null;
  if (pool === null) metrics.workersDesired.set(1);
  const serving: CheckServing =
    pool ??
    (await createCheckService({
      config,
      logger,
      metrics,
      env,
      policies,
      risk,
      revocations,
      labelsOf,
      request: requestSettings,
      sightings,
    }));

  const readiness: Readiness = {
    shuttingDown: false,
    dryRun,
    get lastReloadError() {
      return loader.lastError;
    },
    ...(pool === null ? {} : { workers: () => pool.view() }),
  };
  const router = new Router();
  registerHealthRoutes(
    router,
    policies,
    pool === null ? metrics.registry : clusterMetrics(metrics.registry, () => pool.collectMetrics()),
    readiness,
  );
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
  });
  const admin = new AdminServer(router, logger);

  // Lint every set that becomes active, in the background: warnings are logged, never block a reload.
  const lintActive = () => {
    const set = policies.current;
    if (set === null) return;
    setImmediate(() => {
      const warnings = lintPolicySet(set, {
        workloads: inventory.workloads,
        trustDomains: [...config.identity.trustDomains, defaultTrustDomain(config)],
        request: requestSettings,
      });
      for (const w of warnings)
        logger.warn(
          { event: "policy lint", code: w.code, policy: w.policy, rule: w.rule, file: w.file, line: w.line },
          formatWarning(w),
        );
    });
  };
  lintActive();
  policies.onSwap(lintActive);
  const watcher = config.policies.watch ? new PolicyWatcher(policyDirs, (t) => loader.reload(t), logger) : null;
  await watcher?.start();

  // Risk state is restored (snapshot, other replicas) before the first Check is answered.
  let grpcPort: number;
  let httpBound: Awaited<ReturnType<AdminServer["listen"]>>;
  try {
    await falcoRisk.start();
    grpcPort = await serving.listen();
    httpBound = await admin.listen(config.http.addr);
  } catch (err) {
    // What did start is stopped again, so that the process can exit with the reason.
    await watcher?.stop();
    await serving.shutdown(0).catch(() => undefined);
    await admin.close().catch(() => undefined);
    await falcoRisk.stop().catch(() => undefined);
    throw err;
  }
  if (pool === null) metrics.workersAlive.set(1);
  const httpAddress = typeof httpBound === "string" ? `unix:${httpBound}` : `${httpBound.address}:${httpBound.port}`;
  serving.setServing(true);
  logger.info(
    {
      event: "trustgate serving",
      grpc: config.grpc.addr,
      grpc_port: grpcPort,
      http: httpAddress,
      policy_version: policies.current?.version,
      workers,
    },
    `trustgate serving: gRPC ${config.grpc.addr}, admin HTTP ${httpAddress}` +
      (workers > 1 ? `, ${workers} worker processes` : ""),
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
    workers: () => pool?.view() ?? null,
    reload: (trigger) => loader.reload(trigger),
    stop(reason) {
      stopping ??= (async () => {
        logger.info(
          { event: "shutting down", reason },
          `shutting down (${reason}): reporting NOT_SERVING, finishing in-flight calls`,
        );
        readiness.shuttingDown = true;
        await watcher?.stop();
        serving.setServing(false);
        await serving.shutdown(config.shutdownGraceSeconds * 1000);
        if (pool === null) metrics.workersAlive.set(0);
        await admin.close();
        await falcoRisk.stop();
        logger.info({ event: "stopped" }, "stopped");
        flushLogger(logger);
      })();
      return stopping;
    },
  };
}
