/**
 * Prometheus metrics (prom-client). Label values are bounded: outcomes are a fixed set and policy ids come from the
 * loaded policy set. Label children are cached so the hot path does not rebuild label keys per request.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly decisions: Counter<"outcome" | "policy">;
  readonly checkDuration: Histogram;
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
  private readonly decisionChildren = new Map<string, { inc(): void }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.decisions = new Counter({
      name: "trustgate_decisions_total",
      help: "Check decisions by outcome (allow, deny, unauthenticated) and deciding policy",
      labelNames: ["outcome", "policy"],
      registers,
    });
    this.checkDuration = new Histogram({
      name: "trustgate_check_duration_seconds",
      help: "Time to decide one Check, from request decoded to response built",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers,
    });
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
      registers,
    });
    this.policyReloadErrors = new Counter({
      name: "trustgate_policy_reload_errors_total",
      help: "Policy reloads refused because the new set did not load; the last good set stays in force",
      registers,
    });
    this.policies = new Gauge({ name: "trustgate_policies", help: "Policies in the active set", registers });
    this.policySetInfo = new Gauge({
      name: "trustgate_policy_set_info",
      help: "The active policy set version (value is always 1)",
      labelNames: ["version"],
      registers,
    });
    this.dryRun = new Gauge({ name: "trustgate_dry_run", help: "1 when global dry-run mode is on", registers });
    this.decisionLogsShipped = new Counter({
      name: "trustgate_decision_logs_shipped_total",
      help: "Decision log lines shipped to the collector: sent, dropped (buffer full) or failed (export gave up)",
      labelNames: ["result"],
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "trustgate_" });
  }

  countDecision(outcome: string, policy: string): void {
    const key = `${outcome}\0${policy}`;
    let child = this.decisionChildren.get(key);
    if (child === undefined) {
      child = this.decisions.labels(outcome, policy);
      this.decisionChildren.set(key, child);
    }
    child.inc();
  }

  setPolicySet(version: string, count: number): void {
    this.policySetInfo.reset();
    this.policySetInfo.labels(version).set(1);
    this.policies.set(count);
  }
}
