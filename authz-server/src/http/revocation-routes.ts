/**
 * `GET /v1/revocations` for the wasm filters (versioned with ETag / If-None-Match so an unchanged list costs a 304),
 * and operator endpoints to revoke or restore an identity or certificate fingerprint (admin token required, logged).
 */

import { FINGERPRINT_FORMAT, isFingerprint } from "../identity/fingerprint.js";
import type { RevocationList } from "../identity/revocation-list.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import type { Logger } from "../observability/logger.js";
import { ownField } from "../util/own-record.js";
import { checkAdminToken } from "./admin-auth.js";
import { BodyTooLarge, type Router, readBody, sendJson } from "./router.js";

export function registerRevocationRoutes(
  router: Router,
  list: RevocationList,
  adminToken: string,
  logger: Logger,
): void {
  router.on("GET", "/v1/revocations", (req, res) => {
    const snapshot = list.snapshot();
    const etag = `"${snapshot.version}"`;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(snapshot.body),
      etag,
      "cache-control": "no-cache",
    });
    res.end(snapshot.body);
  });

  router.on("POST", "/v1/revocations", async (req, res) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString("utf8"));
    } catch (err) {
      return sendJson(res, err instanceof BodyTooLarge ? 413 : 400, {
        error: `invalid JSON body: ${(err as Error).message}`,
      });
    }
    const spiffeId = ownField(body, "spiffeId");
    const fingerprint = ownField(body, "fingerprint");
    const reason = ownField(body, "reason");
    if (typeof reason !== "string" || reason.trim() === "") return sendJson(res, 400, { error: "reason is required" });
    if (typeof spiffeId === "string") {
      const parsed = parseSpiffeId(spiffeId);
      if (!parsed.ok) return sendJson(res, 400, { error: `spiffeId: ${parsed.error}` });
      if (parsed.id.path === "") return sendJson(res, 400, { error: "spiffeId: a workload ID has a path" });
      list.revokeIdentity(spiffeId, reason);
      logger.warn({ event: "identity revoked by operator", spiffe_id: spiffeId, reason }, "identity revoked");
    } else if (typeof fingerprint === "string") {
      if (!isFingerprint(fingerprint))
        return sendJson(res, 400, { error: `fingerprint must be ${FINGERPRINT_FORMAT}` });
      list.revokeFingerprint(fingerprint, reason);
      logger.warn({ event: "certificate revoked by operator", fingerprint, reason }, "certificate revoked");
    } else {
      return sendJson(res, 400, { error: "give spiffeId or fingerprint" });
    }
    sendJson(res, 200, { version: list.snapshot().version, revoked: spiffeId ?? fingerprint });
  });

  router.on("DELETE", "/v1/revocations", (req, res, url) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    const spiffeId = url.searchParams.get("spiffeId");
    const fingerprint = url.searchParams.get("fingerprint");
    const removed = spiffeId
      ? list.unrevokeIdentity(spiffeId)
      : fingerprint
        ? list.unrevokeFingerprint(fingerprint)
        : null;
    if (removed === null) return sendJson(res, 400, { error: "give ?spiffeId= or ?fingerprint=" });
    if (!removed) return sendJson(res, 404, { error: "not revoked" });
    logger.warn(
      {
        event: "revocation lifted by operator",
        spiffe_id: spiffeId ?? undefined,
        fingerprint: fingerprint ?? undefined,
      },
      "revocation lifted",
    );
    sendJson(res, 200, { version: list.snapshot().version, restored: spiffeId ?? fingerprint });
  });
}
