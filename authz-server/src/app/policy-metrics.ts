/**
 * Prometheus metrics of policy reloads beyond the reload counters: DENY policies a reload took away (the signature of
 * a half-written file or a bad deploy) and whether the policy directory watcher is working.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { DenyChange } from "../policy/weakened-denies.js";

export class PolicyMetrics {
  private readonly denyWeakened: Counter<"change">;
  readonly watcherUp: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.denyWeakened = new Counter({
      name: "trustgate_policy_deny_weakened_total",
      help: "DENY policies a reload removed (or turned into another action) or switched to dry-run",
      labelNames: ["change"],
      registers,
    });
    for (const change of ["removed", "dry-run"] as const) this.denyWeakened.labels(change).inc(0);
    this.watcherUp = new Gauge({
      name: "trustgate_policy_watcher_up",
      help: "1 while the policy directory watcher can read the policy directories, 0 when it cannot (or is off)",
      registers,
    });
  }

  countWeakened(change: DenyChange): void {
    this.denyWeakened.labels(change).inc();
  }
}
