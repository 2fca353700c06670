/**
 * Prometheus metrics of the Kubernetes policy source, status writing and the admission webhook, on the server's
 * registry. Read from the components' own counters when scraped, so nothing on their paths touches prom-client.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export interface KubeMetricSources {
  readonly policies: () => { total: number; invalid: number; ready: boolean } | null;
  readonly watches: () => Array<{ lists: number; expired: number; failures: number; bookmarks: number }>;
  /** null without a policy source; otherwise since when list/watch fail (null: working). */
  readonly watchFailingSince: () => number | null | undefined;
  readonly leader: () => boolean | null;
  readonly statusWrites: () => { writes: number; failures: number } | null;
  readonly reviews: () => { reviews: number; denied: number } | null;
}

/** A counter whose value is read from elsewhere at scrape time. */
function readCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => Array<[Record<string, string>, number]>,
  labelNames: string[] = [],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

export function registerKubeMetrics(registry: Registry, from: KubeMetricSources): void {
  new Gauge({
    name: "trustgate_kubernetes_policies",
    help: "TrustgatePolicy objects trustgate sees, by whether their latest generation compiled (accepted) or not (invalid)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.reset();
      const p = from.policies();
      if (p === null) return;
      this.set({ state: "accepted" }, p.total - p.invalid);
      this.set({ state: "invalid" }, p.invalid);
    },
  });
  new Gauge({
    name: "trustgate_kubernetes_policy_source_ready",
    help: "1 once every watched namespace has been listed (no policy set is served before)",
    registers: [registry],
    collect() {
      const p = from.policies();
      if (p === null) this.reset();
      else this.set(p.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: "trustgate_kubernetes_watch_up",
    help: "0 while listing or watching TrustgatePolicy objects fails: the set in force may be stale (changes unseen)",
    registers: [registry],
    collect() {
      const since = from.watchFailingSince();
      if (since === undefined) this.reset();
      else this.set(since === null ? 1 : 0);
    },
  });
  const sum = (pick: (w: ReturnType<KubeMetricSources["watches"]>[number]) => number) => () => [
    [{}, from.watches().reduce((n, w) => n + pick(w), 0)] as [Record<string, string>, number],
  ];
  readCounter(
    registry,
    "trustgate_kubernetes_watch_lists_total",
    "Complete lists of TrustgatePolicy objects (start and relists)",
    sum((w) => w.lists),
  );
  readCounter(
    registry,
    "trustgate_kubernetes_watch_expired_total",
    "Watches that got 410 Gone (resourceVersion compacted away): each leads to a relist",
    sum((w) => w.expired),
  );
  readCounter(
    registry,
    "trustgate_kubernetes_watch_failures_total",
    "List or watch attempts that failed and were retried with backoff",
    sum((w) => w.failures),
  );
  readCounter(
    registry,
    "trustgate_kubernetes_watch_bookmarks_total",
    "BOOKMARK events received (the watch's resourceVersion kept fresh)",
    sum((w) => w.bookmarks),
  );
  new Gauge({
    name: "trustgate_kubernetes_status_leader",
    help: "1 when this replica holds the Lease and writes TrustgatePolicy status",
    registers: [registry],
    collect() {
      const l = from.leader();
      if (l === null) this.reset();
      else this.set(l ? 1 : 0);
    },
  });
  readCounter(
    registry,
    "trustgate_kubernetes_status_writes_total",
    "TrustgatePolicy status patches sent by this replica, by result",
    () => {
      const s = from.statusWrites();
      return s === null
        ? []
        : [
            [{ result: "ok" }, s.writes],
            [{ result: "error" }, s.failures],
          ];
    },
    ["result"],
  );
  readCounter(
    registry,
    "trustgate_admission_reviews_total",
    "AdmissionReviews answered by the webhook, by result",
    () => {
      const r = from.reviews();
      return r === null
        ? []
        : [
            [{ result: "allowed" }, r.reviews - r.denied],
            [{ result: "denied" }, r.denied],
          ];
    },
    ["result"],
  );
}
