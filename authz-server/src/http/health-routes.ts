/**
 * Liveness (`/healthz`: the process answers), readiness (`/readyz`: a policy set is loaded and the server is not
 * shutting down; shows the active policy set version) and Prometheus metrics (`/metrics`).
 */

import type { Metrics } from "../observability/metrics.js";
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
}

export function registerHealthRoutes(
  router: Router,
  policies: PolicyHolder,
  metrics: Metrics,
  readiness: Readiness,
): void {
  router.on("GET", "/healthz", (_req, res) => sendJson(res, 200, { status: "ok" }));

  router.on("GET", "/readyz", (_req, res) => {
    const set = policies.current;
    const ready = set !== null && !readiness.shuttingDown;
    sendJson(res, ready ? 200 : 503, {
      status: ready ? "ready" : readiness.shuttingDown ? "shutting down" : "policies not loaded",
      policySet: set
        ? { version: set.version, policies: set.policies.length, loadedAt: set.loadedAt.toISOString() }
        : null,
      dryRun: readiness.dryRun,
      lastReloadError: readiness.lastReloadError,
      // A watcher that cannot read the policy directories leaves the last good set in force (still ready), but
      // changes are no longer picked up: shown here so an operator sees it.
      policyWatcher: readiness.watcher ?? null,
    });
  });

  router.on("GET", "/metrics", async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { "content-type": metrics.registry.contentType });
    res.end(body);
  });
}
