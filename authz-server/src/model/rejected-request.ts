/**
 * The facts of a request refused before it could be decided (malformed, an untrusted identity, an unknown
 * destination), as Envoy sent them: unchecked, so they are logged as evidence and never decided on.
 */
export interface RejectedRequest {
  readonly sourceIp: string;
  /** null when the request carried no HTTP attributes (TCP) or did not decode. */
  readonly http: {
    readonly method: string;
    /** The request target as sent (cut when longer than the longest path trustgate accepts). */
    readonly path: string;
    readonly host: string;
    /** With identity headers the sidecar did not set already removed. */
    readonly headers: Readonly<Record<string, string>>;
  } | null;
}
