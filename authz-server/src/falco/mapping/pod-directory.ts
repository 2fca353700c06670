/**
 * A watch-backed, bounded directory of pods → service accounts, fed by the Kubernetes API through
 * `@kubernetes/client-node`: one paginated list of all pods, then a watch from its resourceVersion (relisting on
 * 410 Gone, reconnecting with backoff on errors). Only `namespace/name → spec.serviceAccountName` is kept, never whole
 * pod objects (observers, such as the destination-label index, keep their own compact data for the same pods), and
 * at most `maxPods` entries; a miss (a pod newer than the watch, or beyond the bound) falls back to
 * one `GET` of that pod, deduplicated and cached briefly. Deleted pods are remembered for a few minutes, because
 * Falco's alert about a pod can arrive after the pod is gone. RBAC: get, list and watch on pods.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod, Watch } from "@kubernetes/client-node";
import { LRUCache } from "lru-cache";
import type { Logger } from "../../observability/logger.js";

/** A service account name, or null for a pod that names none. */
export type Lookup = string | null;

/**
 * Told about every pod the directory keeps, for indexes beyond service accounts (destination labels by pod IP).
 * A list is bracketed by startList/endList: pods not put since startList are gone at endList.
 */
export interface PodObserver {
  startList(): void;
  put(pod: V1Pod): void;
  endList(): void;
  remove(pod: V1Pod): void;
}

export interface PodDirectoryOptions {
  readonly kubeConfig: KubeConfig;
  readonly maxPods: number;
  readonly logger: Logger;
  /** Page size of the initial list. */
  readonly pageSize?: number;
  /** How long start() waits for the first list before letting the server start anyway. */
  readonly initialSyncTimeoutMs?: number;
}

const PODS_PATH = "/api/v1/pods";
const RECENT_TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 5_000;
const MAX_BACKOFF_MS = 30_000;
/** An ingest request waits at most this long for a pod lookup. */
const FETCH_TIMEOUT_MS = 3_000;

function serviceAccountOf(pod: V1Pod): Lookup {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || null;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export class PodDirectory {
  private readonly pods = new Map<string, Lookup>();
  /** Fetched pods, recently deleted pods, and recent misses (value undefined = not found). */
  private readonly recent = new LRUCache<string, { sa: Lookup | undefined }>({ max: 10_000, ttl: RECENT_TTL_MS });
  private readonly inFlight = new Map<string, Promise<Lookup | undefined>>();
  private readonly api: CoreV1Api;
  private readonly watcher: Watch;
  private readonly stopping = new AbortController();
  private watchRequest: AbortController | null = null;
  private resourceVersion = "";
  private overflowWarned = false;
  private loop: Promise<void> | null = null;
  private readonly observers: PodObserver[] = [];
  synced = false;
  /** Counters for metrics and tests. */
  readonly stats = { lists: 0, watches: 0, events: 0, fetches: 0, overflow: 0 };

  constructor(private readonly options: PodDirectoryOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(options.kubeConfig);
  }

  get size(): number {
    return this.pods.size;
  }

  /** Adds an observer; call before start() so it sees the first list. */
  observe(observer: PodObserver): void {
    this.observers.push(observer);
  }

  /** Starts list+watch; resolves once the first list is in (or after the initial-sync timeout). */
  async start(): Promise<void> {
    let firstList: () => void = () => {};
    const listed = new Promise<void>((resolve) => {
      firstList = resolve;
    });
    this.loop = this.run(firstList);
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

  async stop(): Promise<void> {
    this.stopping.abort();
    this.watchRequest?.abort();
    // A watch whose response has not started yet cannot be aborted from here; do not wait on it for long.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
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
      this.stats.fetches += 1;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)), FETCH_TIMEOUT_MS);
      });
      pending = Promise.race([this.api.readNamespacedPod({ name, namespace }), timeout])
        .then(
          (pod) => {
            const sa = serviceAccountOf(pod);
            this.recent.set(key, { sa });
            return sa as Lookup | undefined;
          },
          (err: unknown) => {
            if (err instanceof ApiException && err.code === 404) {
              this.recent.set(key, { sa: undefined }, { ttl: MISS_TTL_MS });
              return undefined;
            }
            throw err;
          },
        )
        .finally(() => {
          clearTimeout(timer);
          this.inFlight.delete(key);
        });
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private put(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!namespace || !name) return;
    const key = keyOf(namespace, name);
    if (!this.pods.has(key) && this.pods.size >= this.options.maxPods) {
      this.stats.overflow += 1;
      if (!this.overflowWarned) {
        this.overflowWarned = true;
        this.options.logger.warn(
          { event: "kubernetes pod cache full", max_pods: this.options.maxPods },
          "pod cache is full (falco.mapping.maxPods); further pods are looked up one by one",
        );
      }
      return;
    }
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

  private async list(): Promise<void> {
    const fresh = new Map<string, Lookup>();
    let token: string | undefined;
    let resourceVersion = "";
    for (const o of this.observers) o.startList();
    do {
      const page = await this.api.listPodForAllNamespaces({ limit: this.options.pageSize ?? 500, _continue: token });
      for (const pod of page.items) {
        const namespace = pod.metadata?.namespace;
        const name = pod.metadata?.name;
        if (!namespace || !name) continue;
        if (fresh.size >= this.options.maxPods) {
          this.stats.overflow += 1;
          continue;
        }
        fresh.set(keyOf(namespace, name), serviceAccountOf(pod));
        for (const o of this.observers) o.put(pod);
      }
      resourceVersion = page.metadata?.resourceVersion ?? "";
      token = page.metadata?._continue || undefined;
    } while (token !== undefined && !this.stopping.signal.aborted);
    // Pods gone since the last list are remembered like deleted ones.
    for (const [key, sa] of this.pods) if (!fresh.has(key)) this.recent.set(key, { sa });
    this.pods.clear();
    for (const [key, sa] of fresh) this.pods.set(key, sa);
    for (const o of this.observers) o.endList();
    this.resourceVersion = resourceVersion;
    this.stats.lists += 1;
    this.synced = true;
  }

  private watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onEvent = (type: string, object: unknown) => {
        this.stats.events += 1;
        const pod = object as V1Pod & { code?: number };
        if (type === "ADDED" || type === "MODIFIED") this.put(pod);
        else if (type === "DELETED") this.remove(pod);
        else if (type === "ERROR") {
          // 410 Gone: our resourceVersion is too old; relist.
          if (pod.code === 410) this.resourceVersion = "";
          return;
        }
        const rv = pod.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
      };
      const done = (err: unknown) => {
        this.watchRequest = null;
        if (err && (err as { statusCode?: number }).statusCode === 410) this.resourceVersion = "";
        else if (err && !this.stopping.signal.aborted) return reject(err);
        resolve();
      };
      this.stats.watches += 1;
      this.watcher
        .watch(PODS_PATH, { resourceVersion: this.resourceVersion, allowWatchBookmarks: true }, onEvent, done)
        .then((request) => {
          this.watchRequest = request;
          if (this.stopping.signal.aborted) request.abort();
        }, reject);
    });
  }

  private async run(firstList: () => void): Promise<void> {
    const { logger } = this.options;
    let backoff = 500;
    let failing = false;
    while (!this.stopping.signal.aborted) {
      try {
        if (this.resourceVersion === "") {
          await this.list();
          firstList();
        }
        if (failing) {
          failing = false;
          logger.info({ event: "kubernetes watch restored", pods: this.pods.size }, "Kubernetes pod watch restored");
        }
        await this.watchOnce();
        backoff = 500;
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        if (!failing) {
          failing = true;
          logger.warn(
            { event: "kubernetes watch failed", error: (err as Error).message },
            "cannot list/watch pods in the Kubernetes API; retrying with backoff (cached pods stay in use)",
          );
        }
        await sleep(backoff, this.stopping.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }
}
