/**
 * A worker process: answers Checks on the connections the primary hands it (connection-dispatch.ts) with state that
 * the primary pushes (cluster-messages.ts).
 * It reads no policy file, takes no Falco alert and talks to no Redis: the primary decides, the workers follow.
 *
 * - policies: the primary sends the file texts of its active set; the worker compiles them (compiled policies hold
 *   closures and regular expressions, which cannot be sent between processes), checks that it arrives at the same
 *   version, swaps the set in with one reference assignment (a Check uses one set from start to end) and reports
 *   the version back;
 * - Falco risk: the engine's state once, then every alert, clear and heartbeat the primary applied, replayed on a
 *   local engine (each applies at most once by id), so `assess` stays an in-memory lookup;
 * - revocations: every record, then every record that changes the primary's list, merged as replicas merge them;
 * - pods (with cluster destination labels): the primary's pod list and watch, replayed on a local label index.
 *
 * The other way, a worker reports how many of its Checks carried the caller's certificate (the primary's revocation
 * endpoint asks whether fingerprint revocations can work here).
 */
import { Socket } from "node:net";
import type { V1Pod } from "@kubernetes/client-node";
import { Histogram } from "prom-client";
import type { Config } from "../config/schema.js";
import { CertificateSightings } from "../engine/certificate-sightings.js";
import { RevocationList } from "../identity/revocation-list.js";
import type { RevocationRecord } from "../identity/revocation-record.js";
import { PodLabelIndex } from "../kube/pod-labels.js";
import { LogDestination } from "../observability/log-destination.js";
import { createLogger, flushLogger, type Logger, logDestinationOf } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { PolicyHolder } from "../policy/policy-holder.js";
import { importEngineState } from "../risk/engine-state.js";
import { RiskEngine } from "../risk/risk-engine.js";
import { resolveRiskSettings } from "../risk/risk-settings.js";
import type { SharedEvent } from "../risk/shared-event.js";
import { WorkloadInventory } from "../workloads/workload-index.js";
import { type CheckService, createCheckService } from "./check-service.js";
import type { FromWorker, PodEvent, PolicySnapshot, ToWorker } from "./cluster-messages.js";
import { isToWorker, SHARED_STDOUT_FD } from "./cluster-messages.js";
import { buildPolicySet } from "./policy-inputs.js";
import { compileOptionsOf, identityNamesOf, requestSettingsOf } from "./settings.js";

type InitMessage = Extract<ToWorker, { t: "trustgate:init" }>;
type StateMessage = Extract<ToWorker, { t: "trustgate:state" }>;

const SWEEP_INTERVAL_MS = 5_000;
const SIGHTINGS_INTERVAL_MS = 1_000;

function send(message: FromWorker): void {
  process.send?.(message);
}

/** Replays a risk change the primary applied (the same steps as SharedRisk.applyShared, without the logging). */
function applyRiskEvent(engine: RiskEngine, event: SharedEvent): void {
  switch (event.kind) {
    case "alert":
      engine.heard(event.alert.receivedMs);
      engine.record(event.alert);
      break;
    case "clear":
      engine.clear(event.spiffeId, event.alertIds, event.id, event.beforeMs);
      break;
    case "heard":
      engine.heard(event.atMs);
      break;
  }
}

/** Replays a step of the primary's pod watch on this worker's label index. */
function applyPodEvent(index: PodLabelIndex, event: PodEvent): void {
  switch (event.op) {
    case "start":
      index.startList();
      break;
    case "end":
      index.endList();
      break;
    case "put":
      index.put(event.pod);
      break;
    case "remove":
      index.remove(event.pod);
      break;
  }
}

/**
 * Counts Checks that carried a certificate and reports them to the primary (whose revocation endpoint asks): every
 * second, and at once the first time this worker sees an identity or a certificate, so the primary never judges on a
 * stale "none seen".
 */
class ReportingSightings extends CertificateSightings {
  private sentIdentities = 0;
  private sentCertificates = 0;

  override see(principal: string, fingerprint: string): void {
    const before = this.certificates;
    const hadIdentity = this.identities > 0 || this.sentIdentities > 0;
    super.see(principal, fingerprint);
    const firstCertificate = before === 0 && this.certificates > 0 && this.sentCertificates === 0;
    if ((!hadIdentity && this.identities > 0) || firstCertificate) this.report();
  }

  report(): void {
    if (this.identities === 0) return;
    send({ t: "trustgate:sightings", identities: this.identities, certificates: this.certificates });
    this.sentIdentities += this.identities;
    this.sentCertificates += this.certificates;
    this.identities = 0;
    this.certificates = 0;
  }
}

class WorkerState {
  readonly policies = new PolicyHolder();
  readonly revocations: RevocationList;
  readonly engine: RiskEngine;
  /** Cluster destination labels, when the primary has them. */
  readonly pods: PodLabelIndex | null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    podLabels: boolean,
  ) {
    const names = identityNamesOf(config);
    this.engine = new RiskEngine(resolveRiskSettings(config.risk), Date.now, names);
    this.revocations = new RevocationList(() => [], Date.now, names);
    this.pods = podLabels ? new PodLabelIndex() : null;
  }

  apply(message: StateMessage): void {
    switch (message.channel) {
      case "policies":
        if (message.replace !== undefined) this.installPolicies(message.replace as PolicySnapshot);
        break;
      case "risk":
        if (message.replace !== undefined) importEngineState(this.engine, message.replace as never);
        for (const event of (message.events ?? []) as SharedEvent[]) applyRiskEvent(this.engine, event);
        break;
      case "revocations":
        for (const record of (message.replace ?? []) as RevocationRecord[]) this.revocations.apply(record);
        for (const record of (message.events ?? []) as RevocationRecord[]) this.revocations.apply(record);
        break;
      case "pods": {
        const pods = this.pods;
        if (pods === null) break;
        if (message.replace !== undefined) {
          pods.startList();
          for (const pod of message.replace as V1Pod[]) pods.put(pod);
          pods.endList();
        }
        for (const event of (message.events ?? []) as PodEvent[]) applyPodEvent(pods, event);
        break;
      }
    }
  }

  private installing: Promise<void> = Promise.resolve();
  private firstHandled: (() => void) | null = null;
  /** Settles once the primary's first policy snapshot is installed (or said there is no set yet). */
  readonly firstPolicies = new Promise<void>((resolve) => {
    this.firstHandled = resolve;
  });

  /** Builds sets one after the other, in the order the primary activated them. */
  private installPolicies(snapshot: PolicySnapshot): void {
    // "" while the primary has no set yet (a Kubernetes source that has not listed): nothing to install.
    if (snapshot.version !== "") this.installing = this.installing.then(() => this.build(snapshot));
    const first = this.firstHandled;
    this.firstHandled = null;
    if (first !== null) void this.installing.then(first);
  }

  private async build(snapshot: PolicySnapshot): Promise<void> {
    if (this.policies.current?.version === snapshot.version) return;
    const compiled = await buildPolicySet(
      snapshot.documents,
      snapshot.digest,
      snapshot.sources,
      snapshot.rootNamespace,
      compileOptionsOf(this.config),
    );
    if (!compiled.ok || compiled.set.version !== snapshot.version) {
      // The same documents through the same compiler cannot give another answer; if it ever does, keep the set in
      // force and say so loudly rather than serve something the primary did not decide.
      this.logger.error(
        {
          event: "worker policy set mismatch",
          expected_version: snapshot.version,
          compiled_version: compiled.ok ? compiled.set.version : null,
          errors: compiled.ok ? [] : compiled.errors.length,
          active_version: this.policies.current?.version ?? null,
        },
        "this worker could not build the policy set the primary activated; keeping its current set",
      );
      return;
    }
    this.policies.swap(compiled.set);
    send({ t: "trustgate:policy-active", version: compiled.set.version });
  }
}

/**
 * The primary's messages in arrival order. Several can arrive in one read of the IPC channel, all emitted in the same
 * tick, so they are queued from the start and handed over in order once there is a handler.
 */
class Inbox {
  private queue: ToWorker[] = [];
  private handler: ((message: ToWorker) => void) | null = null;
  private waiter: (() => void) | null = null;
  private takeConnection: ((socket: Socket) => void) | null = null;

  constructor() {
    process.on("message", (message: unknown, handle: unknown) => {
      if (!isToWorker(message)) return;
      if (message.t === "trustgate:connection") {
        this.connection(handle);
        return;
      }
      if (this.handler !== null) this.handler(message);
      else {
        this.queue.push(message);
        this.waiter?.();
      }
    });
  }

  /** From now on handed connections go to `take` (the primary hands none before this worker is ready). */
  acceptConnections(take: ((socket: Socket) => void) | null): void {
    this.takeConnection = take;
  }

  private connection(handle: unknown): void {
    if (!(handle instanceof Socket)) return;
    // Counted by the primary from the hand-over on; told back when it closes, however that happens.
    handle.once("close", () => send({ t: "trustgate:connection-closed" }));
    if (this.takeConnection === null) handle.destroy();
    else this.takeConnection(handle);
  }

  /** Waits for the init message (the primary sends it first). */
  async init(): Promise<InitMessage> {
    for (;;) {
      const found = this.queue.find((m): m is InitMessage => m.t === "trustgate:init");
      if (found !== undefined) {
        this.queue = this.queue.filter((m) => m !== found);
        return found;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** From now on every message goes to `handler`, starting with those already queued. */
  handle(handler: (message: ToWorker) => void): void {
    const queued = this.queue;
    this.queue = [];
    for (const message of queued) handler(message);
    this.handler = handler;
  }
}

/** Runs the worker until it is drained (exit code 0) or cannot start (1). */
export async function runWorker(env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  // A SIGHUP to the whole process group is the primary's to act on (reload); here it must not end the process.
  process.on("SIGHUP", () => undefined);
  const inbox = new Inbox();
  send({ t: "trustgate:hello" });
  const init = await inbox.init();
  const { config } = init;
  const fields = { worker: init.workerId };
  const output = init.sharedOutput
    ? new LogDestination(SHARED_STDOUT_FD, {
        shared: { forwardLong: (line) => process.stdout.write(line), held: init.outputHeld },
      })
    : 1;
  const logger = createLogger(config.log.level, output, { fields });
  const destination = logDestinationOf(logger);
  const state = new WorkerState(config, logger, init.podLabels);
  let service: CheckService | null = null;
  let metrics: Metrics | null = null;
  let stateDelay: Histogram<"channel"> | null = null;
  let drained: ((code: number) => void) | null = null;
  const finished = new Promise<number>((resolve) => {
    drained = resolve;
  });

  let draining = false;
  const drain = async (graceMs: number) => {
    if (draining) return;
    draining = true;
    inbox.acceptConnections(null);
    if (service !== null) {
      service.setServing(false);
      await service.shutdown(graceMs);
    }
    logger.info({ event: "worker stopped" }, `worker ${init.workerId} stopped`);
    flushLogger(logger);
    drained?.(0);
  };
  inbox.handle((message) => {
    switch (message.t) {
      case "trustgate:state":
        state.apply(message);
        send({ t: "trustgate:state-applied", seq: message.seq });
        stateDelay?.labels(message.channel).observe((Date.now() - message.sentMs) / 1000);
        break;
      case "trustgate:metrics-request":
        void metrics?.registry
          .getMetricsAsJSON()
          .then((json) => send({ t: "trustgate:metrics", id: message.id, metrics: json }));
        break;
      case "trustgate:drain":
        void drain(message.graceMs);
        break;
      case "trustgate:output-hold": {
        const seq = message.seq;
        void destination.shared?.hold().then(() => send({ t: "trustgate:output-held", seq }));
        break;
      }
      case "trustgate:output-release":
        destination.shared?.release();
        break;
    }
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void drain(config.shutdownGraceSeconds * 1000));
  }

  try {
    // Serve with the primary's set from the first Check (unless the primary has none yet either).
    await state.firstPolicies;
    metrics = new Metrics({ controlMetrics: false, droppedLogLines: () => destination.droppedLines });
    metrics.dryRun.set(config.policies.dryRun ? 1 : 0);
    stateDelay = new Histogram({
      name: "trustgate_worker_state_delay_seconds",
      help: "From the primary sending a change of shared state (policies, risk, revocations) to this worker having applied it",
      labelNames: ["channel"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [metrics.registry],
    });
    const inventory = new WorkloadInventory(init.workloads);
    const sightings = new ReportingSightings();
    service = await createCheckService({
      config,
      logger,
      metrics,
      env,
      policies: state.policies,
      risk: state.engine,
      revocations: state.revocations,
      labelsOf: inventory.size > 0 ? (id: string) => inventory.labelsOf(id) : undefined,
      clusterLabelsOf: state.pods === null ? undefined : (ns, sa, ip) => state.pods!.labelsFor(ns, sa, ip),
      request: requestSettingsOf(config),
      sightings,
      logFields: fields,
    });
    inbox.acceptConnections(service.grpc.acceptHandedConnections());
    // gRPC health says SERVING once a policy set is in force (the primary may still wait for a Kubernetes list).
    const ready = service;
    if (state.policies.current !== null) ready.setServing(true);
    else state.policies.onSwap(() => !draining && ready.setServing(true));
    setInterval(() => state.engine.sweep(), SWEEP_INTERVAL_MS).unref();
    setInterval(() => sightings.report(), SIGHTINGS_INTERVAL_MS).unref();
    logger.info(
      { event: "worker serving", pid: process.pid, policy_version: state.policies.current?.version },
      `worker ${init.workerId} serving`,
    );
    send({ t: "trustgate:ready" });
  } catch (err) {
    const error = (err as Error).message;
    logger.fatal({ event: "worker start-up failed", error }, "worker start-up failed");
    flushLogger(logger);
    send({ t: "trustgate:failed", error });
    return 1;
  }
  return finished;
}
