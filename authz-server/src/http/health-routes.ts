/**
 * Liveness (`/healthz`: the process answers), readiness (`/readyz`: a policy set is loaded, the server is not
 * shutting down and — with worker processes — at least one worker serves; shows the active policy set version and
 * each worker's) and Prometheus metrics (`/metrics`, every worker's added up when there are workers).
 */

import type { PolicyHolder } from "../policy/policy-holder.js";
import { type Router, sendJson } from "./router.js";

export interface WatcherState {
  readonly state: string;
  readonly error: string | null;
  readonly since: string;
}

export interface Readiness {
  shuttingDown: boolean;
  readonly dryRun: boolean;
  lastReloadError: string | null;
  /** The policy directory watcher, or null when hot reload is off. */
  readonly watcher?: WatcherState | null;
  /** The Kubernetes policy watch (`watching`, or `failing` since when and why), when policies come from the cluster. */
  readonly kubernetesWatch?: () => {
    readonly state: "watching" | "failing";
    readonly error: string | null;
    readonly since: string | null;
  };
  /** With worker processes: how many serve, and each one's state and policy version. */
  readonly workers?: () => { readonly serving: number };
}

/** The Prometheus exposition: a prom-client Registry, or one that adds up the workers' registries. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export function registerHealthRoutes(
  router: Router,
  policies: PolicyHolder,
  metrics: MetricsSource,
  readiness: Readiness,
): void {
  router.on("GET", "/healthz", (_req, res) => sendJson(res, 200, { status: "ok" }));

  router.on("GET", "/readyz", (_req, res) => {
    const set = policies.current;
    const workers = readiness.workers?.();
    const noWorker = workers !== undefined && workers.serving === 0;
    const ready = set !== null && !readiness.shuttingDown && !noWorker;
    const status = ready
      ? "ready"
      : readiness.shuttingDown
        ? "shutting down"
        : set === null
          ? "policies not loaded"
          : "no worker serving";
    sendJson(res, ready ? 200 : 503, {
      status,
      policySet: set
        ? { version: set.version, policies: set.policies.length, loadedAt: set.loadedAt.toISOString() }
        : null,
      dryRun: readiness.dryRun,
      lastReloadError: readiness.lastReloadError,
      // A watcher that cannot read the policy directories leaves the last good set in force (still ready), but
      // changes are no longer picked up: shown here so an operator sees it.
      policyWatcher: readiness.watcher ?? null,
      // The same for the cluster's policy objects: a failing list/watch keeps the last state read, unseen changes.
      ...(readiness.kubernetesWatch === undefined ? {} : { kubernetesWatch: readiness.kubernetesWatch() }),
      ...(workers === undefined ? {} : { workers }),
    });
  });

  router.on("GET", "/metrics", async (_req, res) => {
    const body = await metrics.metrics();
    res.writeHead(200, { "content-type": metrics.contentType });
    res.end(body);
  });
}
