/**
 * The pods behind cluster destination labels, for worker processes: observes the same pod watch as the primary's
 * label index and passes every list and change on, keeping only what the index reads (namespace, name, service
 * account, labels, addresses, phase). A new worker gets the current pods as one list.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { PodObserver } from "../kube/pod-directory.js";
import type { PodEvent } from "./cluster-messages.js";

/** A pod with only the fields the label index reads. */
export function slimPod(pod: V1Pod): V1Pod {
  const { metadata, spec, status } = pod;
  return {
    metadata: { namespace: metadata?.namespace, name: metadata?.name, labels: metadata?.labels },
    spec: {
      serviceAccountName: spec?.serviceAccountName,
      serviceAccount: spec?.serviceAccount,
      hostNetwork: spec?.hostNetwork,
      containers: [],
    },
    status: { phase: status?.phase, podIP: status?.podIP, podIPs: status?.podIPs },
  };
}

function keyOf(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

export class PodMirror implements PodObserver {
  private readonly pods = new Map<string, V1Pod>();
  private listed = new Set<string>();

  constructor(private readonly send: (event: PodEvent) => void) {}

  /** The current pods, as a list a worker replays. */
  snapshot(): V1Pod[] {
    return [...this.pods.values()];
  }

  startList(): void {
    this.listed = new Set();
    this.send({ op: "start" });
  }

  put(pod: V1Pod): void {
    const slim = slimPod(pod);
    const key = keyOf(slim);
    this.pods.set(key, slim);
    this.listed.add(key);
    this.send({ op: "put", pod: slim });
  }

  endList(): void {
    for (const key of this.pods.keys()) if (!this.listed.has(key)) this.pods.delete(key);
    this.send({ op: "end" });
  }

  remove(pod: V1Pod): void {
    const slim = slimPod(pod);
    this.pods.delete(keyOf(slim));
    this.send({ op: "remove", pod: slim });
  }
}
