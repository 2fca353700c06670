/**
 * The `kubernetes` strategy: `(k8s.ns.name, k8s.pod.name)` → the pod's `spec.serviceAccountName` (from the
 * watch-backed pod directory) → `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`, the identity Istio and SPIRE's Kubernetes
 * registration give that service account. The kubeconfig comes from `falco.mapping.kubeconfig` or the standard
 * places (KUBECONFIG, ~/.kube/config, in-cluster service account).
 */
import { serviceAccountSpiffeId } from "../falco/mapping/kubernetes-names.js";
import {
  type MappingOutcome,
  mapped,
  type OutputFields,
  unattributed,
  type WorkloadMapper,
  workloadValue,
} from "../falco/mapping/workload-mapper.js";
import type { Logger } from "../observability/logger.js";
import { loadKubeConfig } from "./kube-config.js";
import { type Lookup, PodDirectory } from "./pod-directory.js";

export interface KubernetesMapperOptions {
  readonly trustDomain: string;
  /** A kubeconfig file; "" = the standard places. */
  readonly kubeconfig: string;
  readonly maxPods: number;
  readonly logger: Logger;
  readonly initialSyncTimeoutMs?: number;
}

export class KubernetesMapper implements WorkloadMapper {
  readonly strategy = "kubernetes" as const;
  readonly pods: PodDirectory;

  constructor(private readonly options: KubernetesMapperOptions) {
    this.pods = new PodDirectory({
      kubeConfig: loadKubeConfig(options.kubeconfig),
      maxPods: options.maxPods,
      logger: options.logger,
      initialSyncTimeoutMs: options.initialSyncTimeoutMs,
    });
  }

  map(fields: OutputFields): MappingOutcome | Promise<MappingOutcome> {
    const namespace = workloadValue(fields, "k8s.ns.name");
    const pod = workloadValue(fields, "k8s.pod.name");
    if (namespace === null || pod === null) {
      return unattributed("unknown-workload", "the alert names no Kubernetes namespace and pod");
    }
    return this.mapPod(namespace, pod);
  }

  mapPod(namespace: string, pod: string): MappingOutcome | Promise<MappingOutcome> {
    const cached = this.pods.lookup(namespace, pod);
    if (cached !== undefined) return this.outcome(namespace, pod, cached);
    if (this.pods.knownMissing(namespace, pod)) return this.outcome(namespace, pod, undefined);
    return this.pods.fetch(namespace, pod).then(
      (sa) => this.outcome(namespace, pod, sa),
      (err: unknown) =>
        unattributed(
          "lookup-failed",
          `cannot read pod ${namespace}/${pod} from the Kubernetes API: ${(err as Error).message}`,
        ),
    );
  }

  private outcome(namespace: string, pod: string, sa: Lookup | undefined): MappingOutcome {
    if (sa === undefined) return unattributed("no-match", `no pod ${namespace}/${pod} in the Kubernetes API`);
    if (sa === null) return unattributed("no-match", `pod ${namespace}/${pod} has no service account`);
    const id = serviceAccountSpiffeId(this.options.trustDomain, namespace, sa);
    return id === null
      ? unattributed("invalid-identity", `pod ${namespace}/${pod}: invalid namespace or service account "${sa}"`)
      : mapped(id);
  }

  start(): Promise<void> {
    return this.pods.start();
  }

  stop(): Promise<void> {
    return this.pods.stop();
  }
}
