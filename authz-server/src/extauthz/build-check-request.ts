/**
 * Builds the CheckRequest an Envoy sidecar would send for a described request. The one builder behind
 * `trustgate check`, `explain`, policy unit tests, test fixtures and the benchmark, so they all send what Envoy sends.
 */
import { FILTER_FINGERPRINT_HEADER, FILTER_SUBJECT_HEADER } from "../identity/caller-identity.js";
import { ownCopy } from "../util/own-record.js";
import type { CheckRequestMessage, StructMessage } from "./check-request.js";
import { NAMESPACE_EXTENSION } from "./destination.js";
import { JWT_AUTHN_NAMESPACE } from "./forwarded-metadata.js";
import { jsonToStruct } from "./struct-value.js";

export interface RequestSpec {
  readonly source?: {
    readonly principal?: string | undefined;
    readonly ip?: string | undefined;
    readonly port?: number | undefined;
    /** A PEM certificate, sent URL-encoded as `source.certificate` (Envoy's `include_peer_certificate`). */
    readonly certificate?: string | undefined;
    /** Certificate facts stated without a certificate travel the way trustgate's wasm filter reports them. */
    readonly fingerprint?: string | undefined;
    readonly subject?: string | undefined;
  };
  readonly destination?: {
    readonly principal?: string | undefined;
    readonly ip?: string | undefined;
    readonly port?: number | undefined;
    readonly labels?: Readonly<Record<string, string>> | undefined;
    /** Sent as the `trustgate.namespace` context extension. */
    readonly namespace?: string | undefined;
  };
  /** A TCP connection check: no HTTP request at all. */
  readonly tcp?: boolean | undefined;
  readonly method?: string | undefined;
  /** The request target as sent, query included. */
  readonly path?: string | undefined;
  readonly host?: string | undefined;
  readonly scheme?: string | undefined;
  readonly protocol?: string | undefined;
  /** Envoy's `x-request-id`-derived request id, and the request body size. */
  readonly requestId?: string | undefined;
  readonly size?: number | undefined;
  readonly time?: { readonly seconds: number; readonly nanos: number } | undefined;
  /** Request headers (names are lower-cased); pseudo-headers are added from method, path, host and scheme. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly contextExtensions?: Readonly<Record<string, string>> | undefined;
  /** The TLS session's SNI; a TLS session is sent only when this is given (Envoy's `include_tls_session`). */
  readonly sni?: string | undefined;
  /**
   * A verified JWT payload, forwarded as Envoy's jwt_authn filter does with `payload_in_metadata: payload`; null
   * sends the jwt_authn namespace with no token in it.
   */
  readonly jwt?: Readonly<Record<string, unknown>> | null | undefined;
  /** Other forwarded dynamic metadata, by filter namespace. */
  readonly metadata?: Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined;
}

function metadataContext(spec: RequestSpec): { filterMetadata: Record<string, StructMessage> } | null {
  if (spec.jwt === undefined && spec.metadata === undefined) return null;
  const filterMetadata: Record<string, StructMessage> = {};
  for (const [name, value] of Object.entries(spec.metadata ?? {})) filterMetadata[name] = jsonToStruct(value);
  if (spec.jwt !== undefined)
    filterMetadata[JWT_AUTHN_NAMESPACE] = jsonToStruct(spec.jwt === null ? {} : { payload: spec.jwt });
  return { filterMetadata };
}

export function buildCheckRequest(spec: RequestSpec): CheckRequestMessage {
  const source = spec.source ?? {};
  const destination = spec.destination ?? {};
  const method = spec.method ?? "GET";
  const path = spec.path ?? "/";
  const host = spec.host ?? "service.local";
  const scheme = spec.scheme ?? "http";
  // Null-prototype maps: a header, label or extension named `__proto__` is kept as a key like any other.
  const headers: Record<string, string> = Object.create(null);
  headers[":method"] = method;
  headers[":path"] = path;
  headers[":authority"] = host;
  headers[":scheme"] = scheme;
  for (const [k, v] of Object.entries(spec.headers ?? {})) headers[k.toLowerCase()] = v;
  if (source.fingerprint !== undefined) headers[FILTER_FINGERPRINT_HEADER] = source.fingerprint;
  if (source.subject !== undefined) headers[FILTER_SUBJECT_HEADER] = source.subject;
  const contextExtensions = ownCopy(spec.contextExtensions);
  if (destination.namespace !== undefined) contextExtensions[NAMESPACE_EXTENSION] = destination.namespace;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: source.ip ?? "10.0.0.1", portValue: source.port ?? 45000 } },
        principal: source.principal ?? "",
        certificate: source.certificate ? encodeURIComponent(source.certificate) : "",
      },
      destination: {
        address: { socketAddress: { address: destination.ip ?? "10.0.0.2", portValue: destination.port ?? 8080 } },
        principal: destination.principal ?? "",
        labels: ownCopy(destination.labels),
      },
      request: spec.tcp
        ? null
        : {
            ...(spec.time ? { time: spec.time } : {}),
            http: {
              ...(spec.requestId !== undefined ? { id: spec.requestId } : {}),
              method,
              path,
              host,
              scheme,
              ...(spec.protocol !== undefined ? { protocol: spec.protocol } : {}),
              ...(spec.size !== undefined ? { size: spec.size } : {}),
              headers,
            },
          },
      contextExtensions,
      tlsSession: spec.sni !== undefined ? { sni: spec.sni } : null,
      metadataContext: metadataContext(spec),
    },
  };
}
