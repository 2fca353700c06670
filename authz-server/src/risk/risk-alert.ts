/**
 * An attributed Falco alert as the risk engine keeps it: one workload, the facts that explain a decision, and the
 * weight it was accepted with. The same record travels between replicas (Redis) and into the snapshot file, so the
 * accepting replica's weight is the one every replica uses.
 */
import { PRIORITY_SPELLING } from "../model/falco-priority.js";
import type { FalcoPriority } from "../model/risk-view.js";

export interface RiskAlert {
  /** Unique per accepted alert: `falcosidekick:<uuid>` when Falcosidekick gave one, else random. */
  readonly id: string;
  readonly spiffeId: string;
  readonly rule: string;
  readonly priority: FalcoPriority;
  /** The alert's `time` exactly as received. */
  readonly time: string;
  /** Decay starts here: the event time, never later than receipt (a clock ahead of ours does not prolong risk). */
  readonly eventMs: number;
  readonly receivedMs: number;
  readonly weight: number;
  /** Repeats of the same alert share this key: rule, Falco host and container (or pod). */
  readonly dedupKey: string;
}

/** The explanation policies' deny reasons carry: `Falco "<rule>" (<Priority>, <time as received>)`. */
export function explainAlert(rule: string, priority: FalcoPriority, time: string): string {
  return `Falco "${rule}" (${PRIORITY_SPELLING[priority]}, ${time})`;
}
