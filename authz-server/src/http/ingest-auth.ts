/**
 * Who may post alerts. A forged alert is a denial of service (it can cut a workload off), so ingest is never open:
 *  - a bearer token (`Authorization: Bearer <token>`; Falcosidekick's webhook `customHeaders`),
 *  - the same token as `?token=` (Falco's own http_output cannot set headers),
 *  - a client certificate verified against `falco.ingest.tls.clientCaFile` (on the separate TLS ingest listener).
 * With neither a token nor client-certificate verification configured, everything is refused. A token of only
 * whitespace is no token (config/secrets.ts trims it to ""; checked here again so no caller can open ingest to it).
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { bearerToken, tokensEqual } from "./admin-auth.js";

export interface IngestCredentials {
  /** "" (or whitespace only) = no token accepted. */
  readonly token: string;
  /** Whether a verified client certificate authenticates (only on the TLS listener). */
  readonly clientCertificates: boolean;
}

export type IngestAuthResult =
  | { ok: true; method: "bearer" | "query" | "client-certificate" }
  | { ok: false; reason: "not_configured" | "unauthenticated"; error: string };

function hasToken(credentials: IngestCredentials): boolean {
  return credentials.token.trim() !== "";
}

export function ingestConfigured(credentials: IngestCredentials): boolean {
  return hasToken(credentials) || credentials.clientCertificates;
}

export function authenticateIngest(req: IncomingMessage, url: URL, credentials: IngestCredentials): IngestAuthResult {
  if (!ingestConfigured(credentials)) {
    return {
      ok: false,
      reason: "not_configured",
      error:
        "Falco ingest is not configured: set falco.token or falco.tokenFile (TRUSTGATE_FALCO_TOKEN), or client certificates (falco.ingest.tls.clientCaFile)",
    };
  }
  const socket = req.socket as Partial<TLSSocket>;
  if (credentials.clientCertificates && socket.encrypted === true && socket.authorized === true) {
    return { ok: true, method: "client-certificate" };
  }
  if (hasToken(credentials)) {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const presented = bearerToken(req);
      if (presented !== "" && tokensEqual(presented, credentials.token)) return { ok: true, method: "bearer" };
      return { ok: false, reason: "unauthenticated", error: "the bearer token is not valid" };
    }
    const query = url.searchParams.get("token");
    if (query !== null) {
      const presented = query.trim();
      if (presented !== "" && tokensEqual(presented, credentials.token)) return { ok: true, method: "query" };
      return { ok: false, reason: "unauthenticated", error: "the ?token= value is not valid" };
    }
  }
  return {
    ok: false,
    reason: "unauthenticated",
    error: credentials.clientCertificates
      ? "authentication required: a client certificate from the configured CA, a bearer token or ?token="
      : "authentication required: Authorization: Bearer <token> or ?token=<token>",
  };
}
