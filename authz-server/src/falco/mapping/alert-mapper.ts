/**
 * An alert → the workloads it is about, one attribution per subject:
 *  - `workload`: a syscall (or other) alert describes a process in one workload's container; the configured
 *    strategy maps its `output_fields`.
 *  - `caller` and `target`: a `k8s_audit` alert describes a request to the Kubernetes API; its caller is a workload
 *    when it used a service account's token, and the pod it reached into (exec, attach, …) is mapped by the strategy
 *    from its namespace and name. Either, both or neither can be attributed. When both are the same workload, it is
 *    one attribution (the caller), so one alert never counts twice for one identity.
 */
import type { FalcoAlert } from "../alert.js";
import { auditCaller, auditPodTarget, K8S_AUDIT_SOURCE } from "./k8s-audit.js";
import type { MappingOutcome, UnattributedReason, WorkloadMapper } from "./workload-mapper.js";

/** What an attribution is about (a fixed set: it is a metric label). */
export type Subject = "workload" | "caller" | "target";

export const SUBJECTS: readonly Subject[] = ["workload", "caller", "target"];

export interface Attribution {
  readonly subject: Subject;
  readonly outcome: MappingOutcome;
}

export type Attributions = readonly Attribution[];

export class AlertMapper {
  constructor(
    private readonly mapper: WorkloadMapper,
    /** The trust domain of service-account callers' SPIFFE IDs. */
    private readonly trustDomain: string,
  ) {}

  /** Synchronous unless the strategy must fetch (a Kubernetes cache miss). */
  map(alert: FalcoAlert): Attributions | Promise<Attributions> {
    if (alert.source === K8S_AUDIT_SOURCE) return this.mapAudit(alert);
    const outcome = this.mapper.map(alert.outputFields);
    return outcome instanceof Promise ? outcome.then(workload) : workload(outcome);
  }

  private mapAudit(alert: FalcoAlert): Attributions | Promise<Attributions> {
    const caller: Attribution = { subject: "caller", outcome: auditCaller(alert.outputFields, this.trustDomain) };
    const target = auditPodTarget(alert.outputFields);
    if (target === null) return [caller];
    if (!target.ok) return [caller, { subject: "target", outcome: target.outcome }];
    const pod = this.mapper.mapPod(target.namespace, target.pod);
    return pod instanceof Promise ? pod.then((o) => callerAndTarget(caller, o)) : callerAndTarget(caller, pod);
  }
}

function workload(outcome: MappingOutcome): Attributions {
  return [{ subject: "workload", outcome }];
}

function callerAndTarget(caller: Attribution, pod: MappingOutcome): Attributions {
  if (pod.ok && caller.outcome.ok && pod.spiffeId === caller.outcome.spiffeId) return [caller];
  return [caller, { subject: "target", outcome: pod }];
}

/**
 * Why an alert with no attributed subject adds risk to nobody: its pod's reason when it names one (the subject an
 * operator expects to see mapped), else its only subject's; the detail gives every subject's.
 */
export function unattributedReason(attributions: Attributions): { reason: UnattributedReason; detail: string } {
  let reason: UnattributedReason = "unknown-workload";
  const details: string[] = [];
  for (const { subject, outcome } of attributions) {
    if (outcome.ok) continue;
    if (details.length === 0 || subject === "target") reason = outcome.reason;
    details.push(attributions.length > 1 ? `${subject}: ${outcome.detail}` : outcome.detail);
  }
  return { reason, detail: details.length > 0 ? details.join("; ") : "the alert names no workload" };
}
