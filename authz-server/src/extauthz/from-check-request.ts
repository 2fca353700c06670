/**
 * CheckRequest → RequestModel: the inbound half of the ext_authz translation. Pure apart from the certificate parse
 * cache: everything it needs is passed in. Returns a rejection instead of a model when the request cannot be decided
 * safely (malformed, or an identity that must not be trusted); the engine turns that into a deny.
 */
import { isIP } from "node:net";
import { type IdentitySettings, resolveCallerIdentity } from "../identity/caller-identity.js";
import type { CertificateCache } from "../identity/certificate-cache.js";
import { kubernetesServiceAccountOf, parseSpiffeId } from "../identity/spiffe-id.js";
import type { RejectedRequest } from "../model/rejected-request.js";
import { type HttpFacts, RequestModel } from "../model/request-model.js";
import type { RiskView } from "../model/risk-view.js";
import { asciiLowerCase } from "../util/ascii.js";
import type { AddressMessage, CheckRequestMessage } from "./check-request.js";
import { destinationLabels, destinationNamespace, hasLabelHints } from "./destination.js";
import { forwardedMetadata, type JwtSettings } from "./forwarded-metadata.js";
import { headersOf, trustedHeaders } from "./request-headers.js";
import { requestPath } from "./request-path.js";

export type RejectionKind = "identity" | "malformed" | "destination";

export interface Rejection {
  readonly kind: RejectionKind;
  readonly reason: string;
  /** The principal Envoy reported, for logs (it was not accepted). */
  readonly principal: string;
  /** What else the request said, as Envoy sent it, for the decision log: the evidence an operator looks for. */
  readonly request: RejectedRequest | null;
}

export type BuildResult =
  | { ok: true; model: RequestModel; spoofedHeaders: string[] | null }
  | { ok: false; rejection: Rejection; spoofedHeaders: string[] | null };

/** What trustgate is told about the proxy in front of it (facts a CheckRequest does not carry by itself). */
export interface RequestSettings {
  /** Envoy's `xff_num_trusted_hops` (Istio `numTrustedProxies`), for `remote.ip`. */
  readonly numTrustedProxies: number;
  readonly jwt: JwtSettings;
}

export const DEFAULT_REQUEST_SETTINGS: RequestSettings = Object.freeze({
  numTrustedProxies: 0,
  jwt: Object.freeze({ enabled: false, payloadKeys: Object.freeze([]) }),
});

export interface BuildEnvironment {
  readonly identity: IdentitySettings;
  readonly certificates: CertificateCache;
  readonly risk: RiskView;
  /** Labels of known workloads by SPIFFE ID (the workload inventory), used when Envoy sends none. */
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  /**
   * Labels of the destination pod from the cluster (by address, else by service account), used when Envoy sends
   * none; they take the inventory's place.
   */
  readonly clusterLabelsOf?: (
    namespace: string,
    serviceAccount: string,
    ip: string,
  ) => Readonly<Record<string, string>> | undefined;
  /** Default: DEFAULT_REQUEST_SETTINGS. */
  readonly request?: RequestSettings;
  readonly nowMs: number;
}

const MAX_PATH_LENGTH = 8192;

function addressOf(address: AddressMessage | null | undefined): { ip: string; port: number } {
  const socket = address?.socketAddress;
  return { ip: socket?.address ?? "", port: socket?.portValue ?? 0 };
}

/** Envoy writes socket addresses as plain IPv4/IPv6 (a pipe has none): anything else would match no ipBlocks at all. */
function addressProblem(side: "source" | "destination", ip: string): string | null {
  return ip === "" || isIP(ip) !== 0 ? null : `${side} address "${ip}" is not an IP address`;
}

function isEmpty(labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const _ in labels) return false;
  return true;
}

function reject(
  kind: RejectionKind,
  reason: string,
  principal = "",
  spoofed: string[] | null = null,
  request: RejectedRequest | null = null,
): BuildResult {
  return { ok: false, rejection: { kind, reason, principal, request }, spoofedHeaders: spoofed };
}

function rejectedRequest(
  source: { readonly address?: AddressMessage | null },
  http: { readonly method?: string; readonly path?: string; readonly host?: string } | null,
  headers: Readonly<Record<string, string>> | null,
): RejectedRequest {
  const target = http?.path ?? "";
  return {
    sourceIp: addressOf(source.address).ip,
    http:
      http === null
        ? null
        : {
            method: http.method ?? "",
            path: target.length > MAX_PATH_LENGTH ? `${target.slice(0, MAX_PATH_LENGTH)}…` : target,
            host: http.host ?? "",
            headers: headers ?? {},
          },
  };
}

export function fromCheckRequest(request: CheckRequestMessage, env: BuildEnvironment): BuildResult {
  return buildRequestModel(request, env, env.nowMs);
}

/** The same, with the time given apart (the decision path passes its long-lived environment as it is). */
export function buildRequestModel(
  request: CheckRequestMessage,
  env: Omit<BuildEnvironment, "nowMs">,
  nowMs: number,
): BuildResult {
  const attributes = request.attributes;
  if (!attributes) {
    const undecodable = request.undecodable;
    if (undecodable !== undefined) return reject("malformed", `the CheckRequest does not decode: ${undecodable}`);
    return reject("malformed", "CheckRequest has no attributes");
  }
  const source = attributes.source ?? {};
  const destination = attributes.destination ?? {};
  const principal = source.principal ?? "";
  const httpMessage = attributes.request?.http ?? null;
  let http: HttpFacts | null = null;
  let spoofed: string[] | null = null;
  let headers: Record<string, string> | null = null;
  if (httpMessage) {
    const trusted = trustedHeaders(headersOf(httpMessage), env.identity.trustFilterHeaders);
    headers = trusted.headers;
    spoofed = trusted.spoofed;
    const target = httpMessage.path ?? "";
    if (target.length > MAX_PATH_LENGTH)
      return reject(
        "malformed",
        "request path is too long",
        principal,
        spoofed,
        rejectedRequest(source, httpMessage, headers),
      );
    const path = requestPath(target);
    if (!path.ok)
      return reject(
        "malformed",
        `request path rejected: ${path.error}`,
        principal,
        spoofed,
        rejectedRequest(source, httpMessage, headers),
      );
    const method = httpMessage.method ?? "";
    if (method === "")
      return reject(
        "malformed",
        "HTTP request has no method",
        principal,
        spoofed,
        rejectedRequest(source, httpMessage, headers),
      );
    http = {
      method,
      path: path.path,
      target,
      host: asciiLowerCase(httpMessage.host ?? ""),
      headers,
    };
  }
  const identity = resolveCallerIdentity(
    { principal, certificate: source.certificate ?? "", headers },
    env.identity,
    env.certificates,
    nowMs,
  );
  if (!identity.ok)
    return reject("identity", identity.reason, principal, spoofed, rejectedRequest(source, httpMessage, headers));
  const destinationPrincipal = destination.principal ?? "";
  const parsedDestination = destinationPrincipal === "" ? null : parseSpiffeId(destinationPrincipal);
  const destinationId = parsedDestination?.ok ? parsedDestination.id : null;
  const extensions = attributes.contextExtensions;
  const namespace = destinationNamespace(destinationId, extensions);
  if (namespace === "") {
    return reject(
      "destination",
      "destination workload unknown: destination.principal carries no /ns/<namespace>/ and context_extensions has no trustgate.namespace",
      principal,
      spoofed,
      rejectedRequest(source, httpMessage, headers),
    );
  }
  const settings = env.request ?? DEFAULT_REQUEST_SETTINGS;
  const forwarded = forwardedMetadata(attributes.metadataContext, settings.jwt);
  if (!forwarded.ok)
    return reject("malformed", forwarded.error, principal, spoofed, rejectedRequest(source, httpMessage, headers));
  const caller = identity.identity;
  const sourceAddress = addressOf(source.address);
  const destinationAddress = addressOf(destination.address);
  const badAddress = addressProblem("source", sourceAddress.ip) ?? addressProblem("destination", destinationAddress.ip);
  if (badAddress !== null)
    return reject("malformed", badAddress, principal, spoofed, rejectedRequest(source, httpMessage, headers));
  const callerUri = caller.spiffeId?.uri ?? "";
  const sidecarLabels = !isEmpty(destination.labels);
  const knownLabels =
    (env.clusterLabelsOf && !sidecarLabels
      ? env.clusterLabelsOf(
          namespace,
          destinationId !== null ? kubernetesServiceAccountOf(destinationId.path) : "",
          destinationAddress.ip,
        )
      : undefined) ?? (destinationId !== null && env.labelsOf ? env.labelsOf(destinationPrincipal) : undefined);
  const model = new RequestModel(
    {
      ip: sourceAddress.ip,
      port: sourceAddress.port,
      principal: callerUri,
      trustDomain: caller.spiffeId?.trustDomain ?? "",
      certificateFingerprint: caller.fingerprint,
      certificateSubject: caller.subject,
      certificateKnown: callerUri === "" || caller.fingerprint !== "",
      mtls: caller.mtls,
    },
    {
      ip: destinationAddress.ip,
      port: destinationAddress.port,
      principal: destinationId !== null ? destinationPrincipal : "",
      namespace,
      labels: destinationLabels(destination.labels, extensions, knownLabels),
      labelsKnown: knownLabels !== undefined || sidecarLabels || hasLabelHints(extensions),
    },
    http,
    attributes.tlsSession ? (attributes.tlsSession.sni ?? "") : null,
    http === null ? null : forwarded.jwt,
    forwarded.metadata,
    env.risk,
    settings,
  );
  return { ok: true, model, spoofedHeaders: spoofed };
}
