/**
 * Wires one trustgate process together: configuration → policies, identity, risk → the Authorizer → the gRPC and
 * admin listeners; and takes it apart again on shutdown. Side effects live here and in the listeners only.
 *
 * With `workers` > 1 this process is the primary: it keeps the admin and ingest listener, the policy files and
 * sources, Falco risk and revocations, and the Checks are answered by worker processes (worker-pool.ts) that it
 * keeps in step.
 */

import { resolve } from "node:path";
import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import { CertificateSightings } from "../engine/certificate-sightings.js";
import { AdminServer } from "../http/admin-server.js";
import { registerExplainRoutes } from "../http/explain-routes.js";
import { registerFalcoRoutes } from "../http/falco-routes.js";
import { type Readiness, registerHealthRoutes } from "../http/health-routes.js";
import { isLoopbackOnly, parseListenAddress } from "../http/listen.js";
import { registerRevocationRoutes } from "../http/revocation-routes.js";
import { registerRiskRoutes } from "../http/risk-routes.js";
import { Router } from "../http/router.js";
import type { RevocationList } from "../identity/revocation-list.js";
import type { LogDestination } from "../observability/log-destination.js";
import { flushLogger, type Logger, logDestinationOf } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { PolicyHolder } from "../policy/policy-holder.js";
import type { PolicySet } from "../policy/policy-set.js";
import { lintSteps } from "../policy-tools/lint.js";
import { exportEngineState } from "../risk/engine-state.js";
import { TimeSlices } from "../util/time-slices.js";
import { within } from "../util/within.js";
import { loadWorkloadInventory, type WorkloadInventory } from "../workloads/workload-inventory.js";
import { type CheckService, type CheckServing, createCheckService, MIN_TELEMETRY_FLUSH_MS } from "./check-service.js";
import { clusterMetrics } from "./cluster-metrics.js";
import { StateHub } from "./cluster-state.js";
import { createFalcoRisk, type FalcoRisk } from "./falco-risk.js";
import type { KubernetesPolicies, KubernetesPoliciesDeps } from "./kubernetes-policies.js";
import { selectorLabelsWarning } from "./label-sources.js";
import { PodMirror } from "./pod-mirror.js";
import { PolicyLoader } from "./policy-loader.js";
import { PolicyMetrics } from "./policy-metrics.js";
import { PolicyWatcher, type WatcherStatus } from "./policy-watcher.js";
import type { PolicyWorkerOptions } from "./policy-worker-client.js";
import { compileOptionsOf, GRPC_ADDR_SETTING, requestSettingsOf } from "./settings.js";
import { COMPILE_SLICE_MS } from "./sliced-compile.js";
import { StartUpCleanup } from "./start-up-cleanup.js";
import { STATE_SETTLE_TIMEOUT_MS, WorkerPool, type WorkersView } from "./worker-pool.js";

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
  /** TrustgatePolicy source, status writing, admission webhook, pod labels (`policies.source` kubernetes/both). */
  readonly kubernetes: KubernetesPolicies;
  /** The worker processes, when there are any (`workers` > 1). */
  workers(): WorkersView | null;
  /** The policy directory watcher, or null when watching is off. */
  readonly watcher: PolicyWatcher | null;
  reload(trigger: string): Promise<unknown>;
  stop(reason: string): Promise<void>;
}

/** Without Kubernetes in the configuration the Kubernetes client (about 30 MB of heap) is not loaded at all. */
const NO_KUBERNETES: KubernetesPolicies = {
  source: null,
  elector: null,
  status: null,
  webhook: null,
  podLabels: null,
  webhookAddress: () => null,
  attachPods: () => undefined,
  observePods: () => undefined,
  start: async () => undefined,
  stop: async () => undefined,
};

async function kubernetesPolicies(deps: KubernetesPoliciesDeps): Promise<KubernetesPolicies> {
  const { config } = deps;
  if (config.policies.source === "files" && config.policies.kubernetes.webhook.addr === "") return NO_KUBERNETES;
  return (await import("./kubernetes-policies.js")).createKubernetesPolicies(deps);
}

/**
 * The worker processes and the state channels that keep them in step with this process: what the active policy
 * set was built from on every swap, every change of Falco risk, every revocation record, the pods behind cluster
 * labels. Workers report back which Checks carried a certificate (the revocation endpoint asks).
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
  kubernetes: KubernetesPolicies;
}): WorkerPool {
  const { config, policies, loader, falcoRisk, revocations, kubernetes } = deps;
  const hub = new StateHub();
  // The loader records a set's inputs before it swaps the set in, so both describe the same version.
  hub.register("policies", () => ({
    version: policies.current?.version ?? "",
    rootNamespace: config.policies.rootNamespace,
    documents: loader.activeInputs.documents,
    digest: loader.activeInputs.digest,
    // Compiled policies do not travel: the objects they were compiled from do.
    sources: loader.activeInputs.sources.map((s) => ({ name: s.name, digest: s.digest, objects: s.objects ?? [] })),
  }));
  hub.register("risk", () => exportEngineState(falcoRisk.engine));
  hub.register("revocations", () => revocations.records());
  policies.onSwap(() => hub.replace("policies"));
  revocations.onApplied((record) => hub.event("revocations", record));
  falcoRisk.risk.onApplied((event) => hub.event("risk", event));
  if (kubernetes.podLabels !== null) {
    const pods = new PodMirror((event) => hub.event("pods", event));
    hub.register("pods", () => pods.snapshot());
    kubernetes.observePods(pods);
  }
  return new WorkerPool({
    count: deps.count,
    config,
    workloads: deps.inventory.workloads,
    podLabels: kubernetes.podLabels !== null,
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

/** How long a shutdown step other than draining, closing listeners and saving state may take before it is left. */
const STOP_STEP_DEADLINE_MS = 2_000;

const HTTP_ADDR_SETTING = "--http-addr (or TRUSTGATE_HTTP_ADDR, http.addr)";

type Env = Readonly<Record<string, string | undefined>>;

export interface ServerOptions {
  /** Options of the policy worker thread (tests running from TypeScript sources give it a loader). */
  readonly policyWorker?: PolicyWorkerOptions;
  /** Processes answering Checks; 1 (the default) = this process does. The configuration's `auto` is resolved by the caller. */
  readonly workers?: number;
}

/**
 * Starts everything in order. If a step fails, whatever was already opened is closed again before the error
 * surfaces, so `serve` can report it and exit. `env` carries the standard `OTEL_*` variables for tracing and
 * decision-log shipping.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  env: Env = process.env,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const cleanup = new StartUpCleanup(logger);
  try {
    return await start(config, logger, env, options, cleanup);
  } catch (err) {
    await cleanup.closeAll();
    throw err;
  }
}

async function start(
  config: Config,
  logger: Logger,
  env: Env,
  options: ServerOptions,
  cleanup: StartUpCleanup,
): Promise<RunningServer> {
  const workers = options.workers ?? 1;
  const logOutput = logDestinationOf(logger);
  const metrics = new Metrics({ droppedLogLines: () => logOutput.droppedLines });
  metrics.dryRun.set(config.policies.dryRun ? 1 : 0);
  const policies = new PolicyHolder();
  const requestSettings = requestSettingsOf(config);
  const loadedInventory = await loadWorkloadInventory(config.workloads.file, defaultTrustDomain(config), config.yaml);
  if (!loadedInventory.ok) throw new Error(loadedInventory.error);
  const inventory = loadedInventory.inventory;
  if (config.falco.mapping.strategy === "static" && inventory.size === 0) {
    logger.warn(
      { event: "falco static mapping empty" },
      "the Falco static mapping has no workloads, so every Falco alert is unattributed: set TRUSTGATE_WORKLOADS_FILE " +
        "(or serve --workloads, or workloads.file) to a workload inventory, e.g. envoy-configs/compose/trustgate/workloads.yaml",
    );
  }
  const lintTrustDomains = [...config.identity.trustDomains, defaultTrustDomain(config)];
  // The status of TrustgatePolicy objects carries the set's lint warnings; on a single process this runs where Checks
  // are answered, so a few policies at a time.
  const lint = (set: PolicySet) =>
    new TimeSlices(COMPILE_SLICE_MS).run(
      lintSteps(set, { workloads: inventory.workloads, trustDomains: lintTrustDomains, request: requestSettings }),
    );

  let loaderRef: PolicyLoader | null = null;
  const kubernetes = await kubernetesPolicies({
    config,
    holder: policies,
    registry: metrics.registry,
    logger,
    lint,
    trustDomains: lintTrustDomains,
    compile: compileOptionsOf(config),
    request: requestSettings,
    loadError: () => loaderRef?.lastError ?? null,
  });
  cleanup.opened("Kubernetes policy source", () => kubernetes.stop());
  const readsFiles = config.policies.source !== "kubernetes";
  const policyDirs = readsFiles ? [config.policies.dir, ...config.policies.extraDirs] : [];
  const policyMetrics = new PolicyMetrics(metrics.registry);
  // Reading, parsing, checking and linting the files run in a worker thread; see policy-loader.ts.
  const loader = new PolicyLoader({
    dirs: policyDirs,
    rootNamespace: config.policies.rootNamespace,
    limits: config.yaml,
    lint: { workloads: inventory.workloads, trustDomains: lintTrustDomains, request: requestSettings },
    compile: compileOptionsOf(config),
    holder: policies,
    metrics,
    policyMetrics,
    logger,
    worker: options.policyWorker,
    sources: kubernetes.source ? [kubernetes.source] : [],
    keepInputs: workers > 1,
  });
  loaderRef = loader;
  cleanup.opened("policy worker", () => loader.close());
  const watcher =
    config.policies.watch && readsFiles
      ? new PolicyWatcher(policyDirs, (t) => loader.reload(t), logger, {
          stabilityMs: config.policies.watchStabilityMs,
          pollMs: config.policies.watchPollSeconds * 1000,
          onStatus: (status) => policyMetrics.watcherUp.set(status.state === "watching" ? 1 : 0),
        })
      : null;
  // What the directories look like before the first load: a change during it is picked up once watching starts.
  await watcher?.prime();
  // With files only this installs the set; with the Kubernetes source it checks the files and waits for the list.
  const initial = await loader.loadInitial();
  if (initial.policies.length === 0 && kubernetes.source === null) {
    const where = policyDirs.map((d) => resolve(d)).join(", ");
    logger.warn(
      { event: "no policies", policy_dirs: policyDirs.map((d) => resolve(d)) },
      `0 policies loaded from ${where}: every request is allowed (no ALLOW policy applies to any workload)`,
    );
  }

  const labelsOf = inventory.size > 0 ? (id: string) => inventory.labelsOf(id) : undefined;
  const adminToken = await readSecret(config.http.adminToken, config.http.adminTokenFile, "http.adminToken");
  const falcoRisk = await createFalcoRisk({ config, registry: metrics.registry, inventory, logger });
  cleanup.opened("Falco risk", () => falcoRisk.stop());
  kubernetes.attachPods(falcoRisk.mapper);
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
          kubernetes,
        })
      : null;
  if (pool === null) metrics.workersDesired.set(1);
  const service: CheckService | null =
    pool !== null
      ? null
      : await createCheckService({
          config,
          logger,
          metrics,
          env,
          policies,
          risk,
          revocations,
          labelsOf,
          clusterLabelsOf: kubernetes.clusterLabelsOf,
          request: requestSettings,
          sightings,
          addressSetting: GRPC_ADDR_SETTING,
        });
  const serving: CheckServing = pool ?? service!;
  cleanup.opened(pool === null ? "gRPC listener" : "worker processes", () => serving.shutdown(0));

  const readiness: Readiness = {
    shuttingDown: false,
    dryRun,
    get lastReloadError() {
      return loader.lastError;
    },
    ...(pool === null ? {} : { workers: () => pool.view() }),
    get watcher(): WatcherStatus | null {
      return watcher?.status ?? null;
    },
    ...(kubernetes.source === null
      ? {}
      : {
          kubernetesWatch: () => {
            const { failingSince, error } = kubernetes.source!.watchHealth();
            return failingSince === null
              ? { state: "watching" as const, error: null, since: null }
              : { state: "failing" as const, error, since: new Date(failingSince).toISOString() };
          },
        }),
  };
  const router = new Router();
  registerHealthRoutes(
    router,
    policies,
    pool === null ? metrics.registry : clusterMetrics(metrics.registry, () => pool.collectMetrics()),
    readiness,
  );
  // With workers, an operator or Falco change is answered once every worker decides with it.
  const settled = pool === null ? undefined : () => pool.settled(STATE_SETTLE_TIMEOUT_MS);
  if (settled !== undefined) falcoRisk.settleWith(settled);
  registerRevocationRoutes(router, {
    revocations: falcoRisk.revocations,
    adminToken,
    trustFilterHeaders: config.identity.trustFilterHeaders,
    sightings,
    logger,
    settled,
  });
  registerFalcoRoutes(router, falcoRisk.endpoint);
  registerRiskRoutes(router, falcoRisk.risk, adminToken, logger, settled);
  registerExplainRoutes(router, {
    policies,
    risk,
    trustDomains: config.identity.trustDomains,
    revocations,
    labelsOf,
    request: requestSettings,
    dryRun,
    adminToken,
    loopbackOnly: isLoopbackOnly(config.http.addr),
  });
  const admin = new AdminServer(router, logger);
  cleanup.opened("admin HTTP listener", () => admin.close());

  // Lint warnings of file policies come from the policy worker with each load (policy-loader.ts).
  if (watcher) cleanup.opened("policy watcher", () => watcher.stop());
  await watcher?.start();

  // Risk state is restored (snapshot, other replicas) before the first Check is answered.
  await falcoRisk.start();
  const grpcPort = await serving.listen();
  if (pool === null) metrics.workersAlive.set(1);
  const httpBound = await admin.listen(config.http.addr, HTTP_ADDR_SETTING).catch((err: unknown) => {
    const http = parseListenAddress(config.http.addr);
    if (grpcPort !== 0 && http.ok && http.address.port === grpcPort) {
      throw new Error(
        `cannot listen for admin HTTP on ${config.http.addr}: the gRPC listener already uses port ${grpcPort} — ` +
          "give --http-addr and --grpc-addr different ports",
      );
    }
    throw err;
  });
  const httpAddress = typeof httpBound === "string" ? `unix:${httpBound}` : `${httpBound.address}:${httpBound.port}`;
  await kubernetes.start((trigger) => loader.reload(trigger));
  const warnSelectors = selectorLabelsWarning(inventory.size > 0 || kubernetes.podLabels !== null, logger);
  warnSelectors(policies.current);
  policies.onSwap(warnSelectors);
  // gRPC health says SERVING only once a policy set is in force (with the Kubernetes source: after the first list).
  // (Each worker process does the same for itself.)
  if (policies.current !== null) serving.setServing(true);
  else {
    policies.onSwap(() => {
      if (!readiness.shuttingDown) serving.setServing(true);
    });
  }
  logger.info(
    {
      event: "trustgate serving",
      grpc: config.grpc.addr,
      grpc_port: grpcPort,
      http: httpAddress,
      policy_version: policies.current?.version,
      policy_source: config.policies.source,
      pid: process.pid,
      workers,
    },
    `trustgate serving (pid ${process.pid}): gRPC ${config.grpc.addr}, admin HTTP ${httpAddress}` +
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
    kubernetes,
    workers: () => pool?.view() ?? null,
    watcher,
    reload: (trigger) => loader.reload(trigger),
    stop(reason) {
      stopping ??= (async () => {
        const started = Date.now();
        const graceMs = config.shutdownGraceSeconds * 1000;
        logger.info(
          { event: "shutting down", reason },
          `shutting down (${reason}): reporting NOT_SERVING, finishing in-flight calls`,
        );
        // gRPC health and /readyz turn together, before anything that can take time.
        readiness.shuttingDown = true;
        serving.setServing(false);
        // Every step is bounded, so that no client (a half-sent admin request, a stalled collector) and no stuck
        // dependency holds the exit, and with it the saving of state, past the grace period.
        const step = async (what: string, work: Promise<unknown> | undefined) => {
          if (work !== undefined && !(await within(work, STOP_STEP_DEADLINE_MS))) {
            logger.warn(
              { event: "shutdown step timed out", step: what, deadline_ms: STOP_STEP_DEADLINE_MS },
              `shutdown: ${what} did not stop within ${STOP_STEP_DEADLINE_MS} ms; going on without it`,
            );
          }
        };
        await step("policy watcher", watcher?.stop());
        await step("Kubernetes policy source", kubernetes.stop());
        // Telemetry is exported last, after state is saved: a collector that does not answer costs nothing else.
        if (service !== null) await service.drain(graceMs);
        else await serving.shutdown(graceMs);
        if (pool === null) metrics.workersAlive.set(0);
        // Requests in progress get CLOSE_DEADLINE_MS (http/listen.ts), then their connections are cut.
        await admin.close();
        // The ingest listener (bounded the same way), then the risk snapshot and the revocations file.
        await falcoRisk.stop();
        await step("policy worker", loader.close());
        await service?.flushTelemetry(Math.max(MIN_TELEMETRY_FLUSH_MS, graceMs - (Date.now() - started)));
        logger.info({ event: "stopped" }, "stopped");
        flushLogger(logger);
      })();
      return stopping;
    },
  };
}
