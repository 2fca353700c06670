/** What a sidecar stand-in records, the way Envoy's access logs and `ssl.*`/`ext_authz.*` stats would show it. */

/** Which layer decided an inbound request. */
export type DecidedBy = "filter" | "ext_authz" | "ext_authz_error" | "failure_mode_allowed" | "upstream_error";

export interface InboundLogEntry {
  /** ms since the epoch (sub-millisecond precision) when the request arrived / the decision was known. */
  readonly receivedAt: number;
  readonly decidedAt: number;
  readonly requestId: string;
  /** The peer's first URI SAN ("" without a client certificate). */
  readonly peer: string;
  /** `sha256:<hex>` of the peer certificate ("" without one). */
  readonly peerFingerprint: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly allowed: boolean;
  readonly decidedBy: DecidedBy;
  readonly policy: string;
  readonly reason: string;
  readonly decisionId: string;
}

export interface OutboundLogEntry {
  /** When the request was sent upstream, and when its answer (or failure) came back. */
  readonly dispatchedAt: number;
  readonly at: number;
  /** `sha256:<hex>` of the client certificate the connection pool presents (this sidecar's SVID at pool creation). */
  readonly clientFingerprint: string;
  readonly requestId: string;
  readonly destination: string;
  readonly method: string;
  readonly path: string;
  /** Upstream status, or the sidecar's own local reply status (404 no route, 503 upstream failure). */
  readonly status: number;
  readonly error: string;
}

/** A connection refused during or right after the TLS handshake (Envoy: `ssl.fail_verify_*`, connection closed). */
export interface Refusal {
  readonly at: number;
  readonly stat: string;
  readonly reason: string;
  /** The URI SAN the peer's certificate claimed, when it presented one. */
  readonly claimed: string;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}
