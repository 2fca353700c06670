/**
 * A watch-backed, bounded directory of pods → service accounts: every pod of the cluster listed and then watched
 * through ListWatch (pages, bookmarks, 410 relists, silent-stream detection and backoff live there). Only
 * `namespace/name → spec.serviceAccountName` is kept, never whole pod objects (observers, such as the
 * destination-label index, keep their own compact data for the same pods), and at most `maxPods` entries; a miss (a
 * pod newer than the watch, or beyond the bound) falls back to one `GET` of that pod, deduplicated and cached briefly.
 * Deleted pods are remembered for a few minutes, because Falco's alert about a pod can arrive after the pod is gone.
 * RBAC: get, list and watch on pods.
 */
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { LRUCache } from "lru-cache";
import type { Logger } from "../observability/logger.js";
import { type KubeApi, KubeApiError, kubeApi } from "./kube-api.js";
import { ListWatch } from "./list-watch.js";

/** A service account name, or null for a pod that names none. */
export type Lookup = string | null;

/**
 * Told about every pod the directory keeps, for indexes beyond service accounts (destination labels by pod IP).
 * A list is bracketed by startList/endList: pods not put since startList are gone at endList. A list that fails
 * half-way is started again without its endList.
 */
export interface PodObserver {
  startList(): void;
  put(pod: V1Pod): void;
  endList(): void;
  remove(pod: V1Pod): void;
}

export interface PodDirectoryOptions {
  readonly kubeConfig: KubeConfig;
  /** Default: requests with the kubeconfig's credentials. */
  readonly api?: KubeApi;
  readonly maxPods: number;
  readonly logger: Logger;
  /** Page size of the list. */
  readonly pageSize?: number;
  /** How long start() waits for the first list before letting the server start anyway. */
  readonly initialSyncTimeoutMs?: number;
}

const RECENT_TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 5_000;
/** An ingest request waits at most this long for a pod lookup. */
const FETCH_TIMEOUT_MS = 3_000;

function serviceAccountOf(pod: V1Pod): Lookup {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || null;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class PodDirectory {
  private pods = new Map<string, Lookup>();
  /** The list being read: it replaces `pods` once complete. */
  private listing: Map<string, Lookup> | null = null;
  /** Fetched pods, recently deleted pods, and recent misses (value undefined = not found). */
  private readonly recent = new LRUCache<string, { sa: Lookup | undefined }>({ max: 10_000, ttl: RECENT_TTL_MS });
  private readonly inFlight = new Map<string, Promise<Lookup | undefined>>();
  private readonly api: KubeApi;
  private readonly listWatch: ListWatch<V1Pod>;
  private readonly observers: PodObserver[] = [];
  private overflowWarned = false;
  private firstList: () => void = () => {};
  private readonly counts = { fetches: 0, overflow: 0 };

  constructor(private readonly options: PodDirectoryOptions) {
    this.api = options.api ?? kubeApi(options.kubeConfig);
    this.listWatch = new ListWatch<V1Pod>({
      kubeConfig: options.kubeConfig,
      api: this.api,
      path: "/api/v1/pods",
      what: "pods in all namespaces",
      logger: options.logger,
      pageSize: options.pageSize,
      list: {
        begin: () => this.beginList(),
        page: (pods) => this.listPage(pods),
        end: () => this.endList(),
      },
      onEvent: (type, pod) => (type === "DELETED" ? this.remove(pod) : this.put(pod)),
    });
  }

  get size(): number {
    return this.pods.size;
  }

  /** True once a list of all pods has been read. */
  get synced(): boolean {
    return this.listWatch.synced;
  }

  /** Counters for metrics and tests. */
  get stats() {
    const { lists, watches, events } = this.listWatch.stats;
    return { lists, watches, events, ...this.counts };
  }

  /** Adds an observer; call before start() so it sees the first list. */
  observe(observer: PodObserver): void {
    this.observers.push(observer);
  }

  /** Starts list+watch; resolves once the first list is in (or after the initial-sync timeout). */
  async start(): Promise<void> {
    const listed = new Promise<void>((resolve) => {
      this.firstList = resolve;
    });
    this.listWatch.start();
    const timeout = this.options.initialSyncTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeout);
    });
    const late = await Promise.race([listed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.options.logger.warn(
        { event: "kubernetes pod list slow" },
        `no pod list from the Kubernetes API after ${timeout} ms; starting anyway, alerts are looked up pod by pod`,
      );
    }
  }

  stop(): Promise<void> {
    return this.listWatch.stop();
  }

  /** The cached answer: a service account, null (pod without one), or undefined (not known here: fetch it). */
  lookup(namespace: string, name: string): Lookup | undefined {
    const key = keyOf(namespace, name);
    const hit = this.pods.get(key);
    if (hit !== undefined) return hit;
    return this.recent.get(key)?.sa;
  }

  /** Whether a recent lookup already found that the pod does not exist. */
  knownMissing(namespace: string, name: string): boolean {
    const entry = this.recent.get(keyOf(namespace, name));
    return entry !== undefined && entry.sa === undefined;
  }

  /** One GET of the pod (concurrent requests for the same pod share it). Rejects when the API cannot be asked. */
  fetch(namespace: string, name: string): Promise<Lookup | undefined> {
    const key = keyOf(namespace, name);
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      this.counts.fetches += 1;
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
      pending = this.api
        .request<V1Pod>("GET", path, { timeoutMs: FETCH_TIMEOUT_MS })
        .then(
          (pod) => {
            const sa = serviceAccountOf(pod);
            this.recent.set(key, { sa });
            return sa as Lookup | undefined;
          },
          (err: unknown) => {
            if (err instanceof KubeApiError && err.status === 404) {
              this.recent.set(key, { sa: undefined }, { ttl: MISS_TTL_MS });
              return undefined;
            }
            throw err;
          },
        )
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /** Room for one more pod in `map`, warning once when the bound is reached. */
  private hasRoom(map: Map<string, Lookup>, key: string): boolean {
    if (map.has(key) || map.size < this.options.maxPods) return true;
    this.counts.overflow += 1;
    if (!this.overflowWarned) {
      this.overflowWarned = true;
      this.options.logger.warn(
        { event: "kubernetes pod cache full", max_pods: this.options.maxPods },
        "pod cache is full (falco.mapping.maxPods); further pods are looked up one by one",
      );
    }
    return false;
  }

  private beginList(): void {
    this.listing = new Map();
    for (const o of this.observers) o.startList();
  }

  private listPage(pods: V1Pod[]): void {
    const listing = this.listing;
    if (listing === null) return;
    for (const pod of pods) {
      const namespace = pod.metadata?.namespace;
      const name = pod.metadata?.name;
      if (!namespace || !name) continue;
      const key = keyOf(namespace, name);
      if (!this.hasRoom(listing, key)) continue;
      listing.set(key, serviceAccountOf(pod));
      for (const o of this.observers) o.put(pod);
    }
  }

  private endList(): void {
    const listing = this.listing;
    if (listing === null) return;
    this.listing = null;
    // Pods gone since the last list are remembered like deleted ones.
    for (const [key, sa] of this.pods) if (!listing.has(key)) this.recent.set(key, { sa });
    this.pods = listing;
    for (const o of this.observers) o.endList();
    this.firstList();
  }

  private put(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!namespace || !name) return;
    const key = keyOf(namespace, name);
    if (!this.hasRoom(this.pods, key)) return;
    this.pods.set(key, serviceAccountOf(pod));
    for (const o of this.observers) o.put(pod);
  }

  private remove(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!namespace || !name) return;
    const key = keyOf(namespace, name);
    this.pods.delete(key);
    this.recent.set(key, { sa: serviceAccountOf(pod) });
    for (const o of this.observers) o.remove(pod);
  }
}
