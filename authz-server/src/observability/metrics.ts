/**
 * Prometheus metrics (prom-client). Label values are bounded: outcomes are a fixed set and policy ids come from the
 * loaded policy set. Label children are cached so the hot path does not rebuild label keys per request.
 *
 * With several worker processes, each worker exports the per-Check metrics and its process metrics, and the primary
 * the rest (policy reloads, workers); the primary's /metrics adds them up (see app/cluster-metrics.ts). Gauges that
 * every process would report alike say how they aggregate (`aggregator`).
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { FixedHistogram } from "./fixed-histogram.js";

/**
 * How often the event-loop delay histogram samples (prom-client's default is every 10 ms). Its timer is the only thing
 * that wakes an idle serving process: at 10 ms that is 100 wake-ups a second per process, and measured beside four
 * idle processes doing that, a process answering one Check at a time had a p50 about a quarter higher than beside four
 * sampling every 100 ms (README, Performance). At 100 ms the histogram still takes ten samples a second.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new Registry();
  readonly decisions: Counter<"outcome" | "policy">;
  readonly checkDuration: FixedHistogram;
  readonly rejections: Counter<"kind">;
  readonly spoofedHeaders: Counter;
  readonly shadowDecisions: Counter<"policy" | "result">;
  readonly auditMatches: Counter<"policy">;
  readonly policyReloads: Counter<"result">;
  readonly policyReloadErrors: Counter;
  readonly policies: Gauge;
  readonly policySetInfo: Gauge<"version">;
  readonly dryRun: Gauge;
  readonly decisionLogsShipped: Counter<"result">;
  readonly workersAlive: Gauge;
  readonly workersDesired: Gauge;
  readonly workerRestarts: Counter;
  /** Open gRPC connections per worker, read at scrape time from the primary's connection dispatch. */
  workerConnectionsSource: (() => ReadonlyMap<number, number>) | null = null;
  /** Decisions counted since the last scrape, per deciding policy and outcome (added to the counter at scrape). */
  private readonly pendingDecisions = new Map<string, Record<string, number>>();

  constructor(
    options: {
      defaultMetrics?: boolean;
      /** false in a cluster worker: policy reload and worker metrics are the primary's to export. */
      controlMetrics?: boolean;
      /** Log lines dropped because stdout could not keep up. */
      droppedLogLines?: () => number;
    } = {},
  ) {
    const registers = [this.registry];
    const control = options.controlMetrics === false ? [] : registers;
    const pending = this.pendingDecisions;
    // Counted in a plain map on the hot path; prom-client's labelled inc (label object, validation, hash) runs only
    // when the counter is read.
    this.decisions = new Counter({
      name: "trustgate_decisions_total",
      help: "Check decisions by outcome (allow, deny, unauthenticated) and deciding policy",
      labelNames: ["outcome", "policy"],
      registers,
      collect() {
        for (const [policy, byOutcome] of pending) {
          for (const outcome in byOutcome) {
            const n = byOutcome[outcome]!;
            if (n > 0) {
              this.inc({ outcome, policy }, n);
              byOutcome[outcome] = 0;
            }
          }
        }
      },
    });
    this.checkDuration = new FixedHistogram(
      "trustgate_check_duration_seconds",
      "Time to decide one Check, from request decoded to response built",
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers,
    );
    this.rejections = new Counter({
      name: "trustgate_rejections_total",
      help: "Requests refused before policy evaluation (identity, malformed, destination)",
      labelNames: ["kind"],
      registers,
    });
    this.spoofedHeaders = new Counter({
      name: "trustgate_spoofed_identity_headers_total",
      help: "Requests carrying x-trustgate-peer-* headers that no trusted filter set (ignored and removed)",
      registers,
    });
    this.shadowDecisions = new Counter({
      name: "trustgate_shadow_decisions_total",
      help: "Decisions of dry-run policies (evaluated, never enforced) by the shadow deciding policy and result",
      labelNames: ["policy", "result"],
      registers,
    });
    this.auditMatches = new Counter({
      name: "trustgate_audit_matches_total",
      help: "Requests matched by an AUDIT policy",
      labelNames: ["policy"],
      registers,
    });
    this.policyReloads = new Counter({
      name: "trustgate_policy_reloads_total",
      help: "Policy reload attempts by result",
      labelNames: ["result"],
      registers: control,
    });
    this.policyReloadErrors = new Counter({
      name: "trustgate_policy_reload_errors_total",
      help: "Policy reloads refused because the new set did not load; the last good set stays in force",
      registers: control,
    });
    this.policies = new Gauge({
      name: "trustgate_policies",
      help: "Policies in the active set",
      registers: control,
    });
    this.policySetInfo = new Gauge({
      name: "trustgate_policy_set_info",
      help: "The active policy set version (value is always 1)",
      labelNames: ["version"],
      registers: control,
    });
    this.dryRun = new Gauge({
      name: "trustgate_dry_run",
      help: "1 when global dry-run mode is on",
      registers: control,
    });
    this.workersAlive = new Gauge({
      name: "trustgate_workers_alive",
      help: "Processes serving Checks now (1 without worker processes)",
      registers: control,
    });
    this.workersDesired = new Gauge({
      name: "trustgate_workers_desired",
      help: "Processes that should be serving Checks (the workers setting; 1 without worker processes)",
      registers: control,
    });
    this.workerRestarts = new Counter({
      name: "trustgate_worker_restarts_total",
      help: "Worker processes that exited unexpectedly and were replaced",
      registers: control,
    });
    const metrics = this;
    new Gauge({
      name: "trustgate_worker_connections",
      help: "Open gRPC connections the primary handed each serving worker (absent without worker processes)",
      labelNames: ["worker"],
      registers: control,
      collect() {
        this.reset();
        const open = metrics.workerConnectionsSource?.();
        if (open !== undefined) for (const [worker, n] of open) this.labels(String(worker)).set(n);
      },
    });
    const dropped = options.droppedLogLines;
    if (dropped !== undefined) {
      new Counter({
        name: "trustgate_log_lines_dropped_total",
        help: "Log lines dropped because stdout could not keep up (the buffer in front of it was full)",
        registers,
        collect() {
          this.reset();
          this.inc(dropped());
        },
      });
    }
    this.decisionLogsShipped = new Counter({
      name: "trustgate_decision_logs_shipped_total",
      help: "Decision log lines shipped to the collector: sent, dropped (buffer full) or failed (export gave up)",
      labelNames: ["result"],
      registers,
    });
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({
        register: this.registry,
        prefix: "trustgate_",
        eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
      });
    }
  }

  countDecision(outcome: string, policy: string): void {
    let byOutcome = this.pendingDecisions.get(policy);
    if (byOutcome === undefined) {
      byOutcome = { allow: 0, deny: 0, unauthenticated: 0 };
      this.pendingDecisions.set(policy, byOutcome);
    }
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }

  setPolicySet(version: string, count: number): void {
    this.policySetInfo.reset();
    this.policySetInfo.labels(version).set(1);
    this.policies.set(count);
  }
}
