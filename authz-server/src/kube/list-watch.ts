/**
 * List, then watch, one collection of the Kubernetes API, as a controller's reflector does:
 *  - a paginated list gives the complete state and the resourceVersion to watch from;
 *  - the watch (`@kubernetes/client-node`'s `Watch`) asks for bookmarks and a server-side timeout, and every event,
 *    bookmarks included, moves the resourceVersion forward, so a reconnect resumes exactly where the stream ended
 *    and loses nothing;
 *  - `410 Gone` (an ERROR event or an HTTP answer: the resourceVersion was compacted away) means relist;
 *  - any other failure (refused, reset, 5xx, a stream silent for too long) reconnects with exponential backoff and
 *    jitter, keeping the state it has.
 * The library's ListWatch informer was not used: it does not ask for bookmarks, stops for good after an error, and
 * does not say when a list has been applied, which readiness depends on.
 */
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import type { Logger } from "../observability/logger.js";
import { type KubeApi, KubeApiError } from "./kube-api.js";

export interface KubeObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
  };
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * Takes a list page by page, so a large collection (every pod of a cluster) never sits in memory whole. A list that
 * fails half-way is begun again later without its end(): consumers build the new state aside and switch at end().
 */
export interface ListConsumer<T> {
  begin(): void;
  page(items: T[]): void;
  /** The list is complete: the state is exactly what the pages since begin() held. */
  end(): void;
}

/** A ListConsumer for small collections: the whole list at once. */
export function wholeList<T>(onList: (items: T[]) => void): ListConsumer<T> {
  let items: T[] = [];
  return {
    begin: () => {
      items = [];
    },
    page: (page) => {
      items.push(...page);
    },
    end: () => {
      const complete = items;
      items = [];
      onList(complete);
    },
  };
}

export interface ListWatchOptions<T extends KubeObject> {
  readonly kubeConfig: KubeConfig;
  readonly api: KubeApi;
  /** Collection path, e.g. `/apis/trustgate.dev/v1alpha1/namespaces/shop/trustgatepolicies`. */
  readonly path: string;
  /** For logs: "TrustgatePolicy objects in shop". */
  readonly what: string;
  readonly logger: Logger;
  /** The complete state (the first list, and every relist). */
  readonly list: ListConsumer<T>;
  readonly onEvent: (type: WatchEventType, object: T) => void;
  readonly pageSize?: number;
  /** Asked of the server per watch; it ends the watch then (with a bookmark) and we resume. Default 5–10 min. */
  readonly watchTimeoutSeconds?: () => number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

interface ListPage<T> {
  readonly items?: T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

interface WatchStatus {
  readonly code?: number;
  readonly message?: string;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

class WatchFailed extends Error {}

export class ListWatch<T extends KubeObject> {
  private readonly watcher: Watch;
  private readonly stopping = new AbortController();
  private request: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private resourceVersion = "";
  /** True once a list has been applied (stays true across relists). */
  synced = false;
  /**
   * Since when list and watch have failed without a success in between (null: working). The state read before stays
   * in use meanwhile, so changes made in the cluster are not seen: operators must be told (`/readyz`, a gauge).
   */
  failingSince: number | null = null;
  lastError: string | null = null;
  /** ADDED, MODIFIED and DELETED events: a watch that ends at once with none (bookmarks only) is idle. */
  private changes = 0;
  readonly stats = { lists: 0, watches: 0, events: 0, bookmarks: 0, expired: 0, failures: 0 };

  constructor(private readonly options: ListWatchOptions<T>) {
    this.watcher = new Watch(options.kubeConfig);
  }

  /** The resourceVersion the next watch starts from ("" = relist first). */
  get currentResourceVersion(): string {
    return this.resourceVersion;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.request?.abort();
    // A watch whose response has not started cannot always be aborted from here; do not wait on it for long.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
  }

  private async list(): Promise<void> {
    const consumer = this.options.list;
    let token: string | undefined;
    let resourceVersion = "";
    consumer.begin();
    do {
      const page = await this.options.api.request<ListPage<T>>("GET", this.options.path, {
        query: { limit: this.options.pageSize ?? 500, continue: token },
        timeoutMs: 60_000,
      });
      consumer.page(page.items ?? []);
      // The first page's resourceVersion is the list's (later pages are served from the same snapshot).
      if (token === undefined) resourceVersion = page.metadata?.resourceVersion ?? "";
      token = page.metadata?.continue || undefined;
    } while (token !== undefined && !this.stopping.signal.aborted);
    if (this.stopping.signal.aborted) return;
    this.stats.lists += 1;
    consumer.end();
    this.resourceVersion = resourceVersion;
    this.synced = true;
    this.failingSince = null;
  }

  /** One watch; resolves when the stream ends normally (or with 410: then resourceVersion is "" and we relist). */
  private watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      let failure: Error | null = null;
      const timeoutSeconds = this.options.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
      // A stream that says nothing (not even a bookmark) well past its own timeout is dead: drop it.
      let idle: NodeJS.Timeout | undefined;
      const resetIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () => {
            failure = new WatchFailed(`the watch was silent for more than ${timeoutSeconds + 30} s`);
            this.request?.abort();
          },
          (timeoutSeconds + 30) * 1000,
        );
      };
      const onEvent = (type: string, object: unknown) => {
        resetIdle();
        this.stats.events += 1;
        this.failingSince = null;
        if (type === "ERROR") {
          const status = object as WatchStatus;
          if (status.code === 410) {
            this.stats.expired += 1;
            this.resourceVersion = "";
          } else failure = new WatchFailed(`watch error ${status.code ?? "?"}: ${status.message ?? ""}`);
          return;
        }
        const rv = (object as KubeObject).metadata?.resourceVersion;
        if (type === "BOOKMARK") this.stats.bookmarks += 1;
        else if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          this.changes += 1;
          this.options.onEvent(type, object as T);
        } else return;
        if (rv) this.resourceVersion = rv;
      };
      let finished = false;
      const done = (err: unknown) => {
        // client-node may report the end twice (the error, then the stream's close without one): the first counts.
        if (finished) return;
        finished = true;
        clearTimeout(idle);
        this.request = null;
        if (this.stopping.signal.aborted) return resolve();
        if ((err as { statusCode?: number } | null)?.statusCode === 410) {
          this.stats.expired += 1;
          this.resourceVersion = "";
          return resolve();
        }
        if (failure) return reject(failure);
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        this.failingSince = null;
        resolve();
      };
      this.stats.watches += 1;
      resetIdle();
      this.watcher
        .watch(
          this.options.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          done,
        )
        .then((request) => {
          this.request = request;
          if (this.stopping.signal.aborted) request.abort();
        }, done);
    });
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const minBackoff = this.options.minBackoffMs ?? 500;
    const maxBackoff = this.options.maxBackoffMs ?? 30_000;
    let backoff = minBackoff;
    let failing = false;
    while (!this.stopping.signal.aborted) {
      try {
        if (this.resourceVersion === "") await this.list();
        if (failing) {
          failing = false;
          logger.info(
            { event: "kubernetes watch restored", watch: this.options.what },
            `watching ${this.options.what} again`,
          );
        }
        const started = Date.now();
        const changesBefore = this.changes;
        await this.watchOnce();
        // A server that ends every watch at once with no change (nothing, or a bookmark) must not turn this loop into
        // a busy loop.
        const idle = this.changes === changesBefore && this.resourceVersion !== "";
        if (idle && Date.now() - started < 1_000) {
          await sleep(backoff, this.stopping.signal);
          backoff = Math.min(backoff * 2, maxBackoff);
        } else backoff = minBackoff;
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        this.stats.failures += 1;
        this.failingSince ??= Date.now();
        this.lastError = (err as Error).message;
        if (!failing) {
          failing = true;
          const status = err instanceof KubeApiError ? err.status : (err as { statusCode?: number }).statusCode;
          const hint =
            status === 404
              ? " (the resource does not exist: is its CustomResourceDefinition installed?)"
              : status === 401 || status === 403
                ? " (check the credentials and the RBAC rules of trustgate's service account)"
                : "";
          logger.warn(
            { event: "kubernetes watch failed", watch: this.options.what, error: (err as Error).message, status },
            `cannot list/watch ${this.options.what}${hint}; retrying with backoff (the state already read stays in use)`,
          );
        }
        // Full jitter, so replicas that lost the API server together do not come back in lockstep.
        await sleep(backoff / 2 + Math.random() * (backoff / 2), this.stopping.signal);
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  }
}
