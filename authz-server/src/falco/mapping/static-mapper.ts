/**
 * The `static` strategy (the docker-compose mesh, or any place without a Kubernetes API): the workload inventory
 * lists, per workload, the container names, pod-name prefixes and images Falco reports for it. Precedence: exact
 * container name, then the longest matching pod-name prefix, then the image (`container.image`,
 * `repository:tag`, or `repository`). A value claimed by two workloads is ambiguous and maps to nobody.
 * A pod known only by namespace and name (the target of a Kubernetes API request) is matched against the pod-name
 * prefixes of the workloads in that namespace only; likewise an alert that names its Kubernetes namespace (set by the
 * container runtime, not the workload) is only attributed to a workload of that namespace, so a pod elsewhere cannot
 * pin its alerts on another namespace's workload by naming its container or pod after it.
 */
import type { WorkloadInventory } from "../../workloads/workload-inventory.js";
import {
  type MappingOutcome,
  mapped,
  type OutputFields,
  unattributed,
  type WorkloadMapper,
  workloadValue,
} from "./workload-mapper.js";

const AMBIGUOUS = Symbol("ambiguous");
type Target = string | typeof AMBIGUOUS;

function index(map: Map<string, Target>, key: string, spiffeId: string): void {
  const existing = map.get(key);
  map.set(key, existing === undefined || existing === spiffeId ? spiffeId : AMBIGUOUS);
}

export class StaticMapper implements WorkloadMapper {
  readonly strategy = "static" as const;
  private readonly byContainer = new Map<string, Target>();
  private readonly byImage = new Map<string, Target>();
  private readonly byPrefix = new Map<string, Target>();
  /** Distinct prefixes, longest first. */
  private readonly prefixes: string[];
  /** Per namespace: its workloads' pod-name prefixes, longest first. */
  private readonly prefixesByNamespace = new Map<string, Array<[prefix: string, target: Target]>>();
  private readonly namespaceOf = new Map<string, string>();

  constructor(inventory: WorkloadInventory) {
    const scoped = new Map<string, Map<string, Target>>();
    for (const w of inventory.workloads) {
      this.namespaceOf.set(w.spiffeId, w.namespace);
      for (const name of w.containers) index(this.byContainer, name, w.spiffeId);
      for (const image of w.images) index(this.byImage, image, w.spiffeId);
      for (const prefix of w.podPrefixes) index(this.byPrefix, prefix, w.spiffeId);
      const inNamespace = scoped.get(w.namespace) ?? new Map<string, Target>();
      scoped.set(w.namespace, inNamespace);
      for (const prefix of w.podPrefixes) index(inNamespace, prefix, w.spiffeId);
    }
    this.prefixes = [...this.byPrefix.keys()].sort((a, b) => b.length - a.length);
    for (const [namespace, byPrefix] of scoped) {
      this.prefixesByNamespace.set(
        namespace,
        [...byPrefix].sort(([a], [b]) => b.length - a.length),
      );
    }
  }

  map(fields: OutputFields): MappingOutcome {
    const container = workloadValue(fields, "container.name");
    const pod = workloadValue(fields, "k8s.pod.name");
    const repository = workloadValue(fields, "container.image.repository");
    const image = workloadValue(fields, "container.image");
    if (container === null && pod === null && repository === null && image === null) {
      return unattributed("unknown-workload", "no container name, pod name or image in the alert");
    }
    const namespace = workloadValue(fields, "k8s.ns.name") ?? workloadValue(fields, "k8smeta.ns.name");
    if (container !== null) {
      const hit = this.byContainer.get(container);
      if (hit !== undefined) return this.outcome(hit, `container name "${container}"`, namespace);
    }
    if (pod !== null) {
      for (const prefix of this.prefixes) {
        if (pod.startsWith(prefix)) return this.outcome(this.byPrefix.get(prefix)!, `pod name "${pod}"`, namespace);
      }
    }
    const tag = workloadValue(fields, "container.image.tag");
    const candidates = [image, repository !== null && tag !== null ? `${repository}:${tag}` : null, repository];
    for (const candidate of candidates) {
      if (candidate === null) continue;
      const hit = this.byImage.get(candidate);
      if (hit !== undefined) return this.outcome(hit, `image "${candidate}"`, namespace);
    }
    return unattributed(
      "no-match",
      `no inventory workload has container ${container ?? "-"}, pod ${pod ?? "-"} or image ${repository ?? image ?? "-"}`,
    );
  }

  mapPod(namespace: string, pod: string): MappingOutcome {
    for (const [prefix, target] of this.prefixesByNamespace.get(namespace) ?? []) {
      if (pod.startsWith(prefix)) return this.outcome(target, `pod ${namespace}/${pod}`);
    }
    return unattributed("no-match", `no inventory workload in namespace ${namespace} has a pod prefix of "${pod}"`);
  }

  /** `namespace`: the alert's Kubernetes namespace, when it names one. */
  private outcome(target: Target, what: string, namespace: string | null = null): MappingOutcome {
    if (target === AMBIGUOUS) return unattributed("ambiguous", `${what} belongs to more than one workload`);
    const own = this.namespaceOf.get(target);
    if (namespace !== null && own !== undefined && own !== namespace) {
      return unattributed("no-match", `${what} is ${target}'s, which runs in namespace ${own}, not ${namespace}`);
    }
    return mapped(target);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
