/**
 * The `label` strategy: a pod label (named by `falco.mapping.label`, added to alerts with Falco's
 * `append_output.extra_fields: [k8s.pod.label.<label>]`) names the workload. Accepted values:
 *  - a service account name: the identity is `spiffe://<trustDomain>/ns/<k8s.ns.name>/sa/<value>`;
 *  - a full SPIFFE ID in the configured trust domain, accepted only when the alert names the pod's namespace; an ID of
 *    the `/ns/<ns>/sa/<sa>` form must name that same namespace: a pod's label must not be able to pin risk on another
 *    namespace's workload, and without the namespace there is nothing to check the claim against.
 * Read from `k8s.pod.label.<label>`, `k8s.pod.label[<label>]`, or the k8smeta plugin's `k8smeta.pod.label[<label>]`.
 * A pod known only by name (the target of a Kubernetes API request) carries no labels: this strategy cannot map it.
 */
import { kubernetesNamespaceOf, parseSpiffeId } from "../../identity/spiffe-id.js";
import { isServiceAccountName, serviceAccountSpiffeId } from "./kubernetes-names.js";
import {
  type MappingOutcome,
  mapped,
  type OutputFields,
  unattributed,
  type WorkloadMapper,
  workloadValue,
} from "./workload-mapper.js";

export class LabelMapper implements WorkloadMapper {
  readonly strategy = "label" as const;
  private readonly keys: readonly string[];

  constructor(
    readonly label: string,
    private readonly trustDomain: string,
  ) {
    if (label === "") throw new Error("falco.mapping.label must name a pod label when falco.mapping.strategy is label");
    this.keys = [
      `k8s.pod.label.${label}`,
      `k8s.pod.label[${label}]`,
      `k8smeta.pod.label.${label}`,
      `k8smeta.pod.label[${label}]`,
    ];
  }

  map(fields: OutputFields): MappingOutcome {
    const namespace = workloadValue(fields, "k8s.ns.name") ?? workloadValue(fields, "k8smeta.ns.name");
    let value: string | null = null;
    for (const key of this.keys) {
      value = workloadValue(fields, key);
      if (value !== null) break;
    }
    if (value === null) {
      const pod = workloadValue(fields, "k8s.pod.name") ?? workloadValue(fields, "k8smeta.pod.name");
      return pod === null && namespace === null
        ? unattributed("unknown-workload", "no pod or namespace in the alert")
        : unattributed("no-match", `the alert has no pod label "${this.label}"`);
    }
    if (value.startsWith("spiffe://")) return this.fromSpiffeId(value, namespace);
    if (!isServiceAccountName(value)) {
      return unattributed(
        "invalid-identity",
        `label "${this.label}" is neither a service account name nor a SPIFFE ID`,
      );
    }
    if (namespace === null) {
      return unattributed(
        "unknown-workload",
        `label "${this.label}" names service account "${value}" but no namespace is known`,
      );
    }
    const id = serviceAccountSpiffeId(this.trustDomain, namespace, value);
    return id === null ? unattributed("invalid-identity", `invalid namespace "${namespace}"`) : mapped(id);
  }

  mapPod(namespace: string, pod: string): MappingOutcome {
    return unattributed(
      "unsupported",
      `pod ${namespace}/${pod} is known only by name and the label strategy needs its labels (use the kubernetes or static strategy)`,
    );
  }

  private fromSpiffeId(value: string, namespace: string | null): MappingOutcome {
    const parsed = parseSpiffeId(value);
    if (!parsed.ok) return unattributed("invalid-identity", `label "${this.label}": ${parsed.error}`);
    if (parsed.id.path === "") {
      return unattributed("invalid-identity", `label "${this.label}" names a trust domain, not a workload`);
    }
    if (parsed.id.trustDomain !== this.trustDomain) {
      return unattributed("invalid-identity", `label "${this.label}" names trust domain ${parsed.id.trustDomain}`);
    }
    if (namespace === null) {
      return unattributed(
        "unknown-workload",
        `label "${this.label}" names ${parsed.id.uri} but no namespace is known to check it against`,
      );
    }
    const idNamespace = kubernetesNamespaceOf(parsed.id.path);
    if (idNamespace !== "" && idNamespace !== namespace) {
      return unattributed(
        "invalid-identity",
        `label "${this.label}" names an identity in namespace ${idNamespace} but the pod runs in ${namespace}`,
      );
    }
    return mapped(parsed.id.uri);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
