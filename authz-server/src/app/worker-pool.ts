/**
 * The primary's worker processes (Node's cluster): forks them, keeps them in step with the shared state (StateHub),
 * replaces one that dies, gets their log lines to this process's stdout whole (written by the workers themselves when
 * stdout can be shared, see observability/shared-output.ts; else passed through here), and drains them on shutdown.
 *
 * The primary holds the gRPC listening socket and hands each accepted connection to the serving worker with the
 * fewest open connections (connection-dispatch.ts), so a worker that dies takes only its own connections (and the
 * calls in flight on them) with it; clients reconnect to the same port and reach a live worker.
 */
import cluster, { type Worker } from "node:cluster";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/schema.js";
import type { CertificateSightings } from "../engine/certificate-sightings.js";
import { LineForwarder } from "../observability/line-forwarder.js";
import type { LogDestination } from "../observability/log-destination.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { Workload } from "../workloads/workload-index.js";
import type { CheckServing } from "./check-service.js";
import { type FromWorker, isFromWorker, type ToWorker, workerConfig } from "./cluster-messages.js";
import type { StateHub } from "./cluster-state.js";
import { ConnectionDispatch, type ConnectionTaker } from "./connection-dispatch.js";
import { GRPC_ADDR_SETTING } from "./settings.js";
import { WorkerOutputGate } from "./worker-output-gate.js";

export interface WorkerPoolOptions {
  readonly count: number;
  readonly config: Config;
  readonly workloads: readonly Workload[];
  /** Cluster destination labels are in use (the pods channel carries them). */
  readonly podLabels: boolean;
  readonly state: StateHub;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where the workers' log lines go (this process's stdout). */
  readonly output: LogDestination;
  /** Where the workers' reports of Checks that carried a certificate add up. */
  readonly sightings: CertificateSightings;
  /** Extra Node.js options for the worker processes. */
  readonly execArgv?: readonly string[];
}

export type WorkerState = "starting" | "serving" | "draining";

export interface WorkerView {
  readonly id: number;
  readonly pid: number | undefined;
  readonly state: WorkerState;
  /** The policy set version the worker has active ("" until it has one). */
  readonly policyVersion: string;
  readonly startedAt: string;
  /** Open gRPC connections the primary handed this worker. */
  readonly connections: number;
}

export interface WorkersView {
  readonly desired: number;
  /** Workers serving Checks now. */
  readonly serving: number;
  readonly restarts: number;
  readonly workers: readonly WorkerView[];
}

interface Member {
  readonly worker: Worker;
  readonly id: number;
  readonly startedMs: number;
  state: WorkerState;
  policyVersion: string;
  readonly forwarder: LineForwarder;
  readonly target: { send(message: ToWorker): void };
  /** Resolves when everything the worker wrote to stdout has been passed on. */
  readonly outputDone: Promise<void>;
}

const WORKER_MAIN = fileURLToPath(new URL("./worker-main.js", import.meta.url));
/**
 * V8's young generation grows to 16 MB semi-spaces in the start-up burst (module loading, policy compilation) and
 * stays there, resident, for the life of the process. 4 MB semi-spaces keep an idle worker about 10 MB smaller and
 * cost no measurable CPU per Check: a scavenge's cost follows the live young objects (the calls in flight), not the
 * space's size.
 */
const WORKER_NODE_OPTIONS = ["--max-semi-space-size=4"];
/** A worker that dies sooner than this after its start counts towards the restart back-off. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;
const METRICS_TIMEOUT_MS = 2_000;
/**
 * The longest an ingest or operator answer waits for the workers to apply the change. They take a few milliseconds;
 * a worker busy with a large policy set applies it in order all the same, after the answer.
 */
export const STATE_SETTLE_TIMEOUT_MS = 250;

export class WorkerPool implements CheckServing {
  private readonly members = new Map<number, Member>();
  private nextId = 1;
  private draining = false;
  /** Set once the first workers all serve: from then on a worker that exits is replaced. */
  private started = false;
  private restarts = 0;
  private quickFailures = 0;
  private readonly dispatch: ConnectionDispatch;
  /** Set when the workers write their lines to this process's stdout themselves (the output is shareable). */
  private readonly outputGate: WorkerOutputGate | null;
  private metricsRequest = 0;
  private readonly metricsWaiters = new Map<number, (worker: number, metrics: unknown) => void>();

  constructor(private readonly options: WorkerPoolOptions) {
    options.metrics.workersDesired.set(options.count);
    this.dispatch = new ConnectionDispatch(options.config.grpc.addr, GRPC_ADDR_SETTING, (reason) =>
      options.logger.warn({ event: "connection hand-out", reason }, `gRPC connection hand-out: ${reason}`),
    );
    options.metrics.workersAlive.set(0);
    options.metrics.workerConnectionsSource = () => this.dispatch.openConnections();
    const shared = options.output.shared;
    this.outputGate = shared === null ? null : new WorkerOutputGate();
    shared?.setGate(this.outputGate);
    cluster.setupPrimary({
      exec: WORKER_MAIN,
      args: [],
      execArgv: [...process.execArgv, ...WORKER_NODE_OPTIONS, ...(options.execArgv ?? [])],
      // stdout is a pipe per worker, read here and written out line by line: lines stay whole whatever their length.
      // With a shareable stdout, the workers also get it (at SHARED_STDOUT_FD) and write their lines there directly;
      // the pipe then carries only lines too long for one atomic write.
      stdio: shared === null ? ["ignore", "pipe", "inherit", "ipc"] : ["ignore", "pipe", "inherit", "ipc", 1],
    });
  }

  /**
   * Starts every worker, then listens (a connection accepted before any worker serves would wait for nothing);
   * resolves with the gRPC port, rejects if a worker cannot start or the address cannot be bound.
   */
  async listen(): Promise<number> {
    let port: number;
    try {
      await Promise.all(Array.from({ length: this.options.count }, () => this.fork()));
      port = await this.dispatch.listen();
    } catch (err) {
      this.draining = true;
      for (const m of this.members.values()) m.worker.process.kill("SIGKILL");
      throw err;
    }
    this.started = true;
    return port;
  }

  /** The pool's gRPC health is each worker's own; shutdown (drain) turns them all NOT_SERVING. */
  setServing(_serving: boolean): void {}

  view(): WorkersView {
    const open = this.dispatch.openConnections();
    const workers = [...this.members.values()].map((m) => ({
      id: m.id,
      pid: m.worker.process.pid,
      state: m.state,
      policyVersion: m.policyVersion,
      startedAt: new Date(m.startedMs).toISOString(),
      connections: open.get(m.id) ?? 0,
    }));
    return {
      desired: this.options.count,
      serving: workers.filter((w) => w.state === "serving").length,
      restarts: this.restarts,
      workers,
    };
  }

  /** Every serving worker's metrics (prom-client JSON), each within a deadline; a worker that does not answer is left out. */
  async collectMetrics(): Promise<unknown[]> {
    const id = ++this.metricsRequest;
    const asked = [...this.members.values()].filter((m) => m.state === "serving" && m.worker.isConnected());
    const answers: unknown[] = [];
    await new Promise<void>((resolve) => {
      let left = asked.length;
      if (left === 0) return resolve();
      const timer = setTimeout(resolve, METRICS_TIMEOUT_MS);
      this.metricsWaiters.set(id, (_worker, metrics) => {
        answers.push(metrics);
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const m of asked) m.target.send({ t: "trustgate:metrics-request", id });
    });
    this.metricsWaiters.delete(id);
    return answers;
  }

  /** Drains every worker (NOT_SERVING, in-flight calls finished) and waits for them to exit; kills after the grace. */
  async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    this.dispatch.close();
    const members = [...this.members.values()];
    // Done when every worker has exited and its last log lines have been read from its pipe.
    const exits = members.map((m) =>
      Promise.all([
        new Promise<void>((resolve) => {
          if (m.worker.isDead()) return resolve();
          m.worker.once("exit", () => resolve());
        }),
        m.outputDone,
      ]),
    );
    for (const m of members) {
      this.dispatch.remove(m.id);
      m.state = "draining";
      m.target.send({ t: "trustgate:drain", graceMs });
    }
    this.updateAlive();
    const killer = setTimeout(() => {
      for (const m of members) if (!m.worker.isDead()) m.worker.process.kill("SIGKILL");
    }, graceMs + 2_000);
    killer.unref();
    await Promise.all(exits);
    clearTimeout(killer);
  }

  private fork(): Promise<void> {
    const id = this.nextId++;
    const worker = cluster.fork({ TRUSTGATE_WORKER_ID: String(id) });
    const { logger, state, output } = this.options;
    // A worker can die between isConnected() and the write: the send then fails with EPIPE. With a callback the
    // failure comes back here instead of as an 'error' event, which would crash the primary; its exit is handled below.
    const sendFailed = (err: Error | null) => {
      if (err) logger.debug({ event: "worker send failed", worker: id, error: err.message }, `worker ${id} gone`);
    };
    const target = {
      send: (message: ToWorker) => {
        if (worker.isConnected()) worker.send(message, undefined, undefined, sendFailed);
      },
    };
    const taker = {
      take: (socket: Socket, done: (err: Error | null) => void) => {
        if (!worker.isConnected()) return done(new Error("worker gone"));
        const message: ToWorker = { t: "trustgate:connection" };
        worker.send(message, socket, { keepOpen: false }, (err) => done(err ?? null));
      },
    };
    worker.on("error", (err: Error) =>
      logger.warn({ event: "worker channel error", worker: id, error: err.message }, `worker ${id}: ${err.message}`),
    );
    const forwarder = new LineForwarder(output);
    const stdout = worker.process.stdout;
    const member: Member = {
      worker,
      id,
      startedMs: Date.now(),
      state: "starting",
      policyVersion: "",
      forwarder,
      target,
      outputDone: new Promise<void>((resolve) => {
        if (stdout === null || stdout === undefined) return resolve();
        stdout.on("data", (chunk: Buffer) => forwarder.push(chunk));
        stdout.on("end", () => forwarder.end());
        stdout.on("close", () => resolve());
      }),
    };
    this.members.set(id, member);

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on("message", (message: unknown) => {
        if (!isFromWorker(message)) return;
        this.onMessage(member, message, taker);
        if (message.t === "trustgate:ready" && !settled) {
          settled = true;
          resolve();
        } else if (message.t === "trustgate:failed" && !settled) {
          settled = true;
          reject(new Error(message.error));
        }
      });
      worker.on("exit", (code, signal) => {
        this.dispatch.remove(id);
        this.outputGate?.detach(id);
        state.detach(target);
        this.members.delete(id);
        this.updateAlive();
        if (!settled) {
          settled = true;
          reject(new Error(`worker ${id} exited during start-up (${signal ?? `code ${code}`})`));
        }
        if (this.draining || !this.started) return;
        this.replace(member, code, signal);
      });
      logger.debug({ event: "worker started", worker: id, pid: worker.process.pid }, `worker ${id} started`);
    });
  }

  /** Resolves once every worker has applied the state changes made so far (or after `timeoutMs`). */
  settled(timeoutMs: number): Promise<void> {
    return this.options.state.settled(timeoutMs);
  }

  private onMessage(member: Member, message: FromWorker, taker: ConnectionTaker): void {
    switch (message.t) {
      case "trustgate:hello":
        member.target.send({
          t: "trustgate:init",
          workerId: member.id,
          config: workerConfig(this.options.config),
          workloads: this.options.workloads,
          podLabels: this.options.podLabels,
          sharedOutput: this.outputGate !== null,
          outputHeld: this.outputGate?.isHeld ?? false,
        });
        this.outputGate?.attach(member.id, member.target.send);
        this.options.state.attach(member.target);
        break;
      case "trustgate:ready":
        member.state = "serving";
        if (!this.draining) this.dispatch.add(member.id, taker);
        this.updateAlive();
        break;
      case "trustgate:connection-closed":
        this.dispatch.closed(member.id);
        break;
      case "trustgate:output-held":
        this.outputGate?.answered(member.id, message.seq);
        break;
      case "trustgate:policy-active":
        member.policyVersion = message.version;
        break;
      case "trustgate:state-applied":
        this.options.state.acknowledged(member.target, message.seq);
        break;
      case "trustgate:sightings":
        this.options.sightings.identities += message.identities;
        this.options.sightings.certificates += message.certificates;
        break;
      case "trustgate:metrics":
        this.metricsWaiters.get(message.id)?.(member.id, message.metrics);
        break;
      case "trustgate:failed":
        break;
    }
  }

  private replace(member: Member, code: number | null, signal: string | null): void {
    const { logger, metrics } = this.options;
    this.restarts += 1;
    metrics.workerRestarts.inc();
    const livedMs = Date.now() - member.startedMs;
    this.quickFailures = livedMs < STABLE_AFTER_MS ? this.quickFailures + 1 : 0;
    const delayMs = this.quickFailures <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** (this.quickFailures - 2));
    logger.error(
      {
        event: "worker exited",
        worker: member.id,
        pid: member.worker.process.pid,
        code,
        signal,
        lived_seconds: Math.round(livedMs / 100) / 10,
        restart_in_ms: delayMs,
      },
      `worker ${member.id} exited unexpectedly (${signal ?? `code ${code}`}); starting a replacement`,
    );
    const timer = setTimeout(() => {
      if (this.draining) return;
      // A replacement that fails to start exits, and its exit starts the next one (with the back-off).
      this.fork().then(
        () => logger.info({ event: "worker replaced", replaced: member.id }, `worker ${member.id} replaced`),
        (err: unknown) =>
          logger.error({ event: "worker replacement failed", error: (err as Error).message }, "worker did not start"),
      );
    }, delayMs);
    timer.unref();
  }

  private updateAlive(): void {
    let serving = 0;
    for (const m of this.members.values()) if (m.state === "serving") serving++;
    this.options.metrics.workersAlive.set(serving);
  }
}
