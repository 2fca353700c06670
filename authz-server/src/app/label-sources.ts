/**
 * A policy with a selector needs the destination's labels. When trustgate has no source of them (no workload
 * inventory, no pod watch), only the sidecars can tell them (Envoy's `destination.labels`, `trustgate.label.*`
 * hints); if they do not either, those policies fail closed on every Check. Said once, at the first policy set that
 * has selectors, so the first denial does not come as a surprise.
 */
import type { Logger } from "../observability/logger.js";
import type { PolicySet } from "../policy/policy-set.js";

export function selectorLabelsWarning(hasLabelSource: boolean, logger: Logger): (set: PolicySet | null) => void {
  let warned = hasLabelSource;
  return (set) => {
    if (warned || set === null) return;
    const scoped = set.policies.filter((p) => p.selector !== null);
    if (scoped.length === 0) return;
    warned = true;
    logger.warn(
      { event: "selector labels unknown", policies: scoped.slice(0, 10).map((p) => p.id), count: scoped.length },
      `${scoped.length} ${scoped.length === 1 ? "policy uses" : "policies use"} a selector, and trustgate has no source of destination labels (workloads.file, or policies.kubernetes.podLabels with policies.source kubernetes/both): unless the sidecars send destination.labels or trustgate.label.* hints, such policies fail closed (a DENY applies, an ALLOW cannot allow)`,
    );
  };
}
