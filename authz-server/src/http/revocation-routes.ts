/**
 * `GET /v1/revocations` for the wasm filters (versioned with ETag / If-None-Match so an unchanged list costs a 304;
 * every replica serves the same bytes and ETag for the same list), and operator endpoints (admin token, logged) to
 * revoke or restore an identity or certificate fingerprint, and to see the revocations in force with who made them,
 * when, why and until when.
 */
import type { IncomingMessage } from "node:http";
import type { CertificateSightings } from "../engine/certificate-sightings.js";
import type { RevocationKind, RevocationRecord } from "../identity/revocation-record.js";
import { subjectError } from "../identity/revocation-record.js";
import type { Logger } from "../observability/logger.js";
import type { RevocationChange, SharedRevocations } from "../risk/shared-revocations.js";
import { ownField } from "../util/own-record.js";
import { checkAdminToken } from "./admin-auth.js";
import { BodyTooLarge, type Router, readBody, sendJson } from "./router.js";

export interface RevocationRouteDeps {
  readonly revocations: SharedRevocations;
  readonly adminToken: string;
  /** The wasm filter's headers are trusted, so Checks carry the caller's certificate fingerprint. */
  readonly trustFilterHeaders: boolean;
  readonly sightings: CertificateSightings;
  readonly logger: Logger;
  /** Resolves once a change is in force wherever Checks are answered (see FalcoEndpoint.settled). */
  readonly settled?: () => Promise<void>;
}

const MAX_BY = 200;

/** The operator view of a record. */
function view(r: RevocationRecord) {
  return {
    [r.kind]: r.subject,
    reason: r.reason,
    by: r.by,
    at: new Date(r.atMs).toISOString(),
    expiresAt: r.expiresAtMs === null ? null : new Date(r.expiresAtMs).toISOString(),
  };
}

/**
 * Whether a fingerprint revocation can take effect in this deployment's Checks: refused (409) when Checks with a
 * caller identity have come in and none carried a certificate; a warning when no Check has shown either way yet.
 */
function fingerprintProblem(deps: RevocationRouteDeps): { refuse: boolean; message: string } | null {
  const { sightings } = deps;
  if (deps.trustFilterHeaders || sightings.certificates > 0) return null;
  if (sightings.identities > 0) {
    return {
      refuse: true,
      message:
        `none of the ${sightings.identities} Checks with a caller identity since start-up carried the caller's certificate ` +
        "(Envoy does not send it, e.g. Istio's CUSTOM provider, and identity.trustFilterHeaders is off), so trustgate " +
        "cannot see fingerprints and this revocation would not stop that certificate here: revoke its spiffeId, or " +
        'add "force": true if the wasm filters enforce the list in the sidecars',
    };
  }
  return {
    refuse: false,
    message:
      "no Check with a caller identity has arrived yet, so it is not known whether this deployment sees certificates: " +
      "a fingerprint revocation takes effect in trustgate only when Envoy sends the certificate " +
      "(include_peer_certificate) or the wasm filter's header is trusted (identity.trustFilterHeaders)",
  };
}

function expiryOf(
  body: Record<string, unknown>,
  nowMs: number,
): { ok: true; ms: number | null } | { ok: false; error: string } {
  if (body.expiresAt !== undefined && body.ttlSeconds !== undefined) {
    return { ok: false, error: "give expiresAt or ttlSeconds, not both" };
  }
  if (body.ttlSeconds !== undefined) {
    const ttl = body.ttlSeconds;
    if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0 || ttl > 10 * 365 * 86_400) {
      return { ok: false, error: "ttlSeconds must be a number of seconds above 0 (at most ten years)" };
    }
    return { ok: true, ms: nowMs + Math.round(ttl * 1000) };
  }
  if (body.expiresAt !== undefined) {
    const ms = typeof body.expiresAt === "string" ? Date.parse(body.expiresAt) : Number.NaN;
    if (!Number.isSafeInteger(ms)) return { ok: false, error: "expiresAt must be an RFC 3339 time" };
    if (ms <= nowMs) return { ok: false, error: "expiresAt is in the past" };
    return { ok: true, ms };
  }
  return { ok: true, ms: null };
}

function operator(req: IncomingMessage, by: unknown): string {
  return typeof by === "string" && by.trim() !== ""
    ? by.trim().slice(0, MAX_BY)
    : `admin@${req.socket.remoteAddress ?? "?"}`;
}

export function registerRevocationRoutes(router: Router, deps: RevocationRouteDeps): void {
  const { revocations, adminToken, logger } = deps;
  const list = revocations.list;

  router.on("GET", "/v1/revocations", (req, res) => {
    const snapshot = list.snapshot();
    if (req.headers["if-none-match"] === snapshot.etag) {
      res.writeHead(304, { etag: snapshot.etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(snapshot.body),
      etag: snapshot.etag,
      "cache-control": "no-cache",
    });
    res.end(snapshot.body);
  });

  router.on("GET", "/v1/revocations/operator", (req, res) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    sendJson(res, 200, {
      version: list.snapshot().version,
      durability: revocations.durability,
      revocations: list.operatorRevocations().map(view),
    });
  });

  router.on("POST", "/v1/revocations", async (req, res) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readBody(req, 64 * 1024)).toString("utf8"));
    } catch (err) {
      return sendJson(res, err instanceof BodyTooLarge ? 413 : 400, {
        error: `invalid JSON body: ${(err as Error).message}`,
      });
    }
    const body = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const spiffeId = ownField(body, "spiffeId");
    const fingerprint = ownField(body, "fingerprint");
    const reason = ownField(body, "reason");
    if (typeof reason !== "string" || reason.trim() === "") return sendJson(res, 400, { error: "reason is required" });
    if (reason.length > 1024) return sendJson(res, 400, { error: "reason is longer than 1024 characters" });
    let kind: RevocationKind;
    let subject: string;
    if (typeof spiffeId === "string") [kind, subject] = ["spiffeId", spiffeId];
    else if (typeof fingerprint === "string") [kind, subject] = ["fingerprint", fingerprint];
    else return sendJson(res, 400, { error: "give spiffeId or fingerprint" });
    const bad = subjectError(kind, subject);
    if (bad !== null) return sendJson(res, 400, { error: bad });
    const expiry = expiryOf(body, Date.now());
    if (!expiry.ok) return sendJson(res, 400, { error: expiry.error });

    let warning: string | undefined;
    if (kind === "fingerprint") {
      const problem = fingerprintProblem(deps);
      if (problem?.refuse && body.force !== true) {
        logger.warn(
          { event: "fingerprint revocation refused", fingerprint: subject, reason: problem.message },
          "fingerprint revocation refused: this deployment's Checks carry no certificates",
        );
        return sendJson(res, 409, { error: problem.message });
      }
      warning = problem?.message;
    }

    const by = operator(req, body.by);
    const change = await revocations.revoke({ kind, subject, reason, by, expiresAtMs: expiry.ms });
    if (!change.ok) return sendJson(res, change.status, { error: change.error });
    logger.warn(
      {
        event: kind === "spiffeId" ? "identity revoked by operator" : "certificate revoked by operator",
        [kind === "spiffeId" ? "spiffe_id" : "fingerprint"]: subject,
        reason,
        by,
        expires_at: expiry.ms === null ? undefined : new Date(expiry.ms).toISOString(),
        warning,
      },
      kind === "spiffeId" ? "identity revoked" : `certificate revoked${warning ? ` (warning: ${warning})` : ""}`,
    );
    await deps.settled?.();
    answer(res, change, { revoked: subject, ...(warning ? { warning } : {}) });
  });

  router.on("DELETE", "/v1/revocations", async (req, res, url) => {
    const auth = checkAdminToken(req, adminToken);
    if (!auth.ok) return sendJson(res, auth.status, { error: auth.error });
    const spiffeId = url.searchParams.get("spiffeId");
    const fingerprint = url.searchParams.get("fingerprint");
    if (!spiffeId && !fingerprint) return sendJson(res, 400, { error: "give ?spiffeId= or ?fingerprint=" });
    const kind: RevocationKind = spiffeId ? "spiffeId" : "fingerprint";
    const subject = (spiffeId || fingerprint) as string;
    const by = operator(req, url.searchParams.get("by"));
    const change = await revocations.lift(kind, subject, by);
    if (change === null) return sendJson(res, 404, { error: "not revoked" });
    if (!change.ok) return sendJson(res, change.status, { error: change.error });
    logger.warn(
      {
        event: "revocation lifted by operator",
        spiffe_id: spiffeId ?? undefined,
        fingerprint: fingerprint ?? undefined,
        by,
      },
      "revocation lifted",
    );
    await deps.settled?.();
    answer(res, change, { restored: subject });
  });

  function answer(res: Parameters<typeof sendJson>[0], change: RevocationChange & { ok: true }, extra: object): void {
    const snapshot = list.snapshot();
    if (change.error === undefined) {
      sendJson(res, 200, { version: snapshot.version, persisted: change.persisted, ...extra });
    } else {
      sendJson(res, 500, {
        error: `in force and shared, but not written to the revocation file: ${change.error}`,
        version: snapshot.version,
        ...extra,
      });
    }
  }
}
