/**
 * Destination labels from the cluster, for Checks whose sidecar sends none: an index fed by the pod directory
 * (the same list/watch of pods the Falco `kubernetes` mapping keeps, bounded by its `maxPods`) that answers
 *  1. by the destination address: the one running pod with that IP, if it is in the destination's namespace and
 *     (when the destination has a SPIFFE ID) runs as its service account, so a reused IP never lends a pod's labels
 *     to another workload;
 *  2. else by service account: the labels every pod of that service account shares (pods of one Deployment share
 *     its template's labels; labels that differ between them, such as pod-template-hash, are left out).
 * Only namespace, service account, IPs and labels are kept per pod, and identical label sets (the pods of one
 * ReplicaSet) share one frozen object. Label maps have no prototype, so a label key can never name a built-in.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { PodObserver } from "./pod-directory.js";

export type Labels = Readonly<Record<string, string>>;

interface PodRecord {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Labels;
  readonly labelsKey: string;
  readonly ips: readonly string[];
  mark: number;
}

const FINISHED = new Set(["Succeeded", "Failed"]);

function keyOf(pod: V1Pod): string | null {
  const ns = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  return ns && name ? `${ns}/${name}` : null;
}

function ipsOf(pod: V1Pod): string[] {
  // hostNetwork pods share their node's IP, and finished pods have given theirs back: neither names one pod.
  if (pod.spec?.hostNetwork === true || FINISHED.has(pod.status?.phase ?? "")) return [];
  const ips = new Set<string>();
  if (pod.status?.podIP) ips.add(pod.status.podIP);
  for (const entry of pod.status?.podIPs ?? []) if (entry.ip) ips.add(entry.ip);
  return [...ips];
}

function freeze(entries: ReadonlyArray<readonly [string, string]>): Labels {
  const labels = Object.create(null) as Record<string, string>;
  for (const [k, v] of entries) labels[k] = v;
  return Object.freeze(labels);
}

export class PodLabelIndex implements PodObserver {
  private readonly pods = new Map<string, PodRecord>();
  private readonly byIp = new Map<string, string[]>();
  private readonly byServiceAccount = new Map<string, Set<string>>();
  private readonly serviceAccountLabels = new Map<string, Labels>();
  private readonly interned = new Map<string, { labels: Labels; refs: number }>();
  private listMark = 0;

  get size(): number {
    return this.pods.size;
  }

  /** Labels of the destination, or undefined when the cluster cannot say. */
  labelsFor(namespace: string, serviceAccount: string, ip: string): Labels | undefined {
    if (ip !== "") {
      const keys = this.byIp.get(ip);
      if (keys !== undefined && keys.length === 1) {
        const pod = this.pods.get(keys[0]!);
        if (
          pod !== undefined &&
          pod.namespace === namespace &&
          (serviceAccount === "" || pod.serviceAccount === serviceAccount)
        ) {
          return pod.labels;
        }
      }
    }
    return serviceAccount === "" ? undefined : this.sharedLabels(namespace, serviceAccount);
  }

  startList(): void {
    this.listMark += 1;
  }

  endList(): void {
    for (const [key, pod] of this.pods) if (pod.mark < this.listMark) this.drop(key, pod);
  }

  put(pod: V1Pod): void {
    const key = keyOf(pod);
    if (key === null) return;
    const existing = this.pods.get(key);
    if (existing !== undefined) this.drop(key, existing);
    const entries = Object.entries(pod.metadata?.labels ?? {})
      .filter((e): e is [string, string] => typeof e[1] === "string")
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const labelsKey = JSON.stringify(entries);
    let shared = this.interned.get(labelsKey);
    if (shared === undefined) {
      shared = { labels: freeze(entries), refs: 0 };
      this.interned.set(labelsKey, shared);
    }
    shared.refs += 1;
    const record: PodRecord = {
      namespace: pod.metadata!.namespace!,
      serviceAccount: pod.spec?.serviceAccountName || pod.spec?.serviceAccount || "default",
      labels: shared.labels,
      labelsKey,
      ips: ipsOf(pod),
      mark: this.listMark,
    };
    this.pods.set(key, record);
    for (const ip of record.ips) {
      const keys = this.byIp.get(ip);
      if (keys === undefined) this.byIp.set(ip, [key]);
      else keys.push(key);
    }
    const sa = `${record.namespace}/${record.serviceAccount}`;
    let members = this.byServiceAccount.get(sa);
    if (members === undefined) {
      members = new Set();
      this.byServiceAccount.set(sa, members);
    }
    members.add(key);
    this.serviceAccountLabels.delete(sa);
  }

  remove(pod: V1Pod): void {
    const key = keyOf(pod);
    const existing = key === null ? undefined : this.pods.get(key);
    if (key !== null && existing !== undefined) this.drop(key, existing);
  }

  private drop(key: string, pod: PodRecord): void {
    this.pods.delete(key);
    for (const ip of pod.ips) {
      const keys = this.byIp.get(ip)?.filter((k) => k !== key);
      if (keys === undefined || keys.length === 0) this.byIp.delete(ip);
      else this.byIp.set(ip, keys);
    }
    const sa = `${pod.namespace}/${pod.serviceAccount}`;
    const members = this.byServiceAccount.get(sa);
    members?.delete(key);
    if (members?.size === 0) this.byServiceAccount.delete(sa);
    this.serviceAccountLabels.delete(sa);
    const shared = this.interned.get(pod.labelsKey);
    if (shared !== undefined && --shared.refs === 0) this.interned.delete(pod.labelsKey);
  }

  private sharedLabels(namespace: string, serviceAccount: string): Labels | undefined {
    const sa = `${namespace}/${serviceAccount}`;
    const cached = this.serviceAccountLabels.get(sa);
    if (cached !== undefined) return cached;
    const members = this.byServiceAccount.get(sa);
    if (members === undefined || members.size === 0) return undefined;
    let common: Array<[string, string]> | null = null;
    for (const key of members) {
      const labels = this.pods.get(key)!.labels;
      common =
        common === null
          ? Object.entries(labels)
          : common.filter(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
    }
    const result = freeze(common ?? []);
    this.serviceAccountLabels.set(sa, result);
    return result;
  }
}
