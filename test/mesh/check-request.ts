/**
 * The CheckRequest Envoy's ext_authz filter sends (check_request_utils.cc), as an object for the upstream
 * `envoy.service.auth.v3.CheckRequest` type: addresses, principals (URI SAN, else DNS SAN, else subject; only on TLS
 * with a certificate), the URL-encoded peer PEM when `include_peer_certificate`, node labels, the stream start time,
 * and the HTTP request with every header (pseudo-headers included, lower-case, repeats joined with ","), the path
 * with its query. Pure.
 */
import { envoyPrincipal, urlEncodedPem } from "./certificate-facts.js";
import type { ConnectionInfo, SocketAddress } from "./connection.js";

export interface CheckInputs {
  readonly connection: ConnectionInfo;
  /** The request headers after the Wasm filter, lower-case, pseudo-headers first. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Envoy's internal stream id (decimal string, not x-request-id). */
  readonly streamId: string;
  /** Stream start, in ms since the epoch (fractions kept as nanoseconds). */
  readonly startedAtMs: number;
  readonly includePeerCertificate: boolean;
  /** Node metadata under `bootstrap_metadata_labels_key`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Per-route `check_settings.context_extensions`. */
  readonly contextExtensions: Readonly<Record<string, string>>;
  readonly protocol: string;
}

function address(a: SocketAddress): Record<string, unknown> {
  return { socketAddress: { address: a.ip, portValue: a.port } };
}

/** Envoy's header map as ext_authz sends it: one entry per name, repeated values joined with ",". */
export function joinedHeaders(headers: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) out[k] = Object.hasOwn(out, k) ? `${out[k]},${v}` : v;
  return out;
}

export function buildCheckRequest(i: CheckInputs): Record<string, unknown> {
  const { connection: c } = i;
  const source: Record<string, unknown> = { address: address(c.source) };
  if (c.peer) {
    source.principal = envoyPrincipal(c.peer);
    if (i.includePeerCertificate) source.certificate = urlEncodedPem(c.peer);
  }
  const headers = joinedHeaders(i.headers);
  const seconds = Math.floor(i.startedAtMs / 1000);
  const nanos = Math.floor((i.startedAtMs - seconds * 1000) * 1e6);
  return {
    attributes: {
      source,
      destination: {
        address: address(c.destination),
        principal: envoyPrincipal(c.local),
        labels: { ...i.labels },
      },
      request: {
        time: { seconds, nanos },
        http: {
          id: i.streamId,
          method: headers[":method"] ?? "",
          headers,
          path: headers[":path"] ?? "",
          host: headers[":authority"] ?? "",
          scheme: headers[":scheme"] ?? "",
          protocol: i.protocol,
        },
      },
      contextExtensions: { ...i.contextExtensions },
      metadataContext: {},
    },
  };
}
