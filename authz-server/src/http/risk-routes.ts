/**
 * Operator view of runtime risk. `GET /v1/risk` lists every workload with retained alerts (score, level, highest
 * active alert, the alert behind the level, active alerts) and the feed state; `GET /v1/risk?id=spiffe://…` shows one
 * workload with all its retained alerts. `DELETE /v1/risk?id=…` clears a workload after investigation: admin token
 * required, logged, and shared with the other replicas.
 */
import { parseSpiffeId } from "../identity/spiffe-id.js";
import type { Logger } from "../observability/logger.js";
import type { IdentityView } from "../risk/risk-report.js";
import type { FeedView } from "../risk/shared-risk.js";
import { checkAdminToken } from "./admin-auth.js";
import { type Router, sendJson } from "./router.js";

export interface RiskOperations {
  feedView(): FeedView;
  view(spiffeId: string): IdentityView;
  viewAll(): IdentityView[];
  /** Clears a workload here and on every replica; returns the number of alerts removed locally. */
  clear(spiffeId: string): number;
}

/** `settled`: resolves once a change is in force wherever Checks are answered (see FalcoEndpoint.settled). */
export function registerRiskRoutes(
  router: Router,
  risk: RiskOperations,
  adminToken: string,
  logger: Logger,
  settled: () => Promise<void> = () => Promise.resolve(),
): void {
  router.on("GET", "/v1/risk", (_req, res, url) => {
    const id = url.searchParams.get("id");
    if (id === null) return sendJson(res, 200, { feed: risk.feedView(), identities: risk.viewAll() });
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) return sendJson(res, 400, { error: `id: ${parsed.error}` });
    sendJson(res, 200, { feed: risk.feedView(), identity: risk.view(parsed.id.uri) });
  });

  router.on("DELETE", "/v1/risk", async (req, res, url) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    const id = url.searchParams.get("id");
    if (id === null) return sendJson(res, 400, { error: "give ?id=spiffe://… (the workload to clear)" });
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) return sendJson(res, 400, { error: `id: ${parsed.error}` });
    const before = risk.view(parsed.id.uri);
    const removed = risk.clear(parsed.id.uri);
    logger.warn(
      {
        event: "risk cleared by operator",
        spiffe_id: parsed.id.uri,
        removed_alerts: removed,
        level_before: before.level,
        remote: req.socket.remoteAddress,
      },
      `operator cleared the Falco risk of ${parsed.id.uri} (${removed} alerts, was ${before.level})`,
    );
    await settled();
    sendJson(res, 200, {
      cleared: parsed.id.uri,
      removedAlerts: removed,
      levelBefore: before.level,
      identity: risk.view(parsed.id.uri),
    });
  });
}
