/**
 * CheckRequest → RequestModel. Pure apart from the certificate parse cache: everything it needs is passed in.
 * Returns a rejection instead of a model when the request cannot be decided safely (malformed, or an identity that
 * must not be trusted); the caller turns that into a deny.
 */

import { type IdentityPolicy, resolveCallerIdentity, spoofedIdentityHeaders } from "../identity/caller-identity.js";
import type { CertificateCache } from "../identity/certificate-cache.js";
import { kubernetesNamespaceOf, kubernetesServiceAccountOf, parseSpiffeId } from "../identity/spiffe-id.js";
import type { RiskView } from "../risk/risk-view.js";
import type { AddressMessage, CheckRequestMessage, HttpRequestMessage } from "./check-request.js";
import { normalizeRequestPath } from "./path.js";
import { type HttpFacts, RequestModel } from "./request-model.js";

/** Trusted hints a sidecar can put in its per-route `check_settings.context_extensions`. */
export const NAMESPACE_EXTENSION = "trustgate.namespace";
export const LABEL_EXTENSION_PREFIX = "trustgate.label.";

export type RejectionKind = "identity" | "malformed" | "destination";

export interface Rejection {
  readonly kind: RejectionKind;
  readonly reason: string;
  /** The principal Envoy reported, for logs (it was not accepted). */
  readonly principal: string;
}

export type BuildResult =
  | { ok: true; model: RequestModel; spoofedHeaders: string[] | null }
  | { ok: false; rejection: Rejection; spoofedHeaders: string[] | null };

export interface BuildEnvironment {
  readonly identity: IdentityPolicy;
  readonly certificates: CertificateCache;
  readonly risk: RiskView;
  /** Labels of known workloads by SPIFFE ID (the workload inventory), used when Envoy sends none. */
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  readonly nowMs: number;
}

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const MAX_PATH_LENGTH = 8192;

function addressOf(address: AddressMessage | null | undefined): { ip: string; port: number } {
  const socket = address?.socketAddress;
  return { ip: socket?.address ?? "", port: socket?.portValue ?? 0 };
}

/** `encode_raw_headers: true` sends `header_map` instead of `headers`; fold it into the same lower-cased map. */
function headersOf(http: HttpRequestMessage): Record<string, string> {
  const headers = http.headers;
  if (headers && Object.keys(headers).length > 0) return headers;
  const list = http.headerMap?.headers;
  const map: Record<string, string> = Object.create(null);
  if (!list) return map;
  for (const entry of list) {
    const key = (entry.key ?? "").toLowerCase();
    if (key === "") continue;
    const value =
      entry.rawValue && entry.rawValue.length > 0 ? Buffer.from(entry.rawValue).toString("utf8") : (entry.value ?? "");
    map[key] = Object.hasOwn(map, key) ? `${map[key]},${value}` : value;
  }
  return map;
}

function withoutHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const copy: Record<string, string> = Object.create(null);
  for (const name in headers) if (!names.includes(name)) copy[name] = headers[name]!;
  return copy;
}

function destinationLabels(
  labels: Record<string, string> | undefined,
  extensions: Record<string, string> | undefined,
  inventory: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> {
  let hasLabels = false;
  for (const _ in labels) {
    hasLabels = true;
    break;
  }
  let hasHints = false;
  for (const k in extensions) {
    if (k.startsWith(LABEL_EXTENSION_PREFIX)) {
      hasHints = true;
      break;
    }
  }
  if (!hasHints) {
    if (!inventory) return hasLabels ? labels! : EMPTY_LABELS;
    if (!hasLabels) return inventory;
  }
  // Precedence: inventory < destination.labels < context_extensions hints (both set by the sidecar itself).
  const merged: Record<string, string> = { ...inventory, ...labels };
  for (const k in extensions) {
    if (k.startsWith(LABEL_EXTENSION_PREFIX)) merged[k.slice(LABEL_EXTENSION_PREFIX.length)] = extensions[k]!;
  }
  return merged;
}

function reject(kind: RejectionKind, reason: string, principal = "", spoofed: string[] | null = null): BuildResult {
  return { ok: false, rejection: { kind, reason, principal }, spoofedHeaders: spoofed };
}

export function fromCheckRequest(request: CheckRequestMessage, env: BuildEnvironment): BuildResult {
  const attributes = request.attributes;
  if (!attributes) return reject("malformed", "CheckRequest has no attributes");

  const source = attributes.source ?? {};
  const destination = attributes.destination ?? {};
  const principal = source.principal ?? "";
  const httpMessage = attributes.request?.http ?? null;

  let http: HttpFacts | null = null;
  let spoofed: string[] | null = null;
  let headers: Record<string, string> | null = null;
  if (httpMessage) {
    headers = headersOf(httpMessage);
    if (!env.identity.trustFilterHeaders) {
      spoofed = spoofedIdentityHeaders(headers);
      if (spoofed !== null) headers = withoutHeaders(headers, spoofed);
    }
    const target = httpMessage.path ?? "";
    if (target.length > MAX_PATH_LENGTH) return reject("malformed", "request path is too long", principal, spoofed);
    const normalised = normalizeRequestPath(target);
    if (!normalised.ok) return reject("malformed", `request path rejected: ${normalised.error}`, principal, spoofed);
    const method = httpMessage.method ?? "";
    if (method === "") return reject("malformed", "HTTP request has no method", principal, spoofed);
    http = {
      method,
      path: normalised.path,
      target,
      host: (httpMessage.host ?? "").toLowerCase(),
      headers,
    };
  }

  const identity = resolveCallerIdentity(
    { principal, certificate: source.certificate ?? "", headers },
    env.identity,
    env.certificates,
    env.nowMs,
  );
  if (!identity.ok) return reject("identity", identity.reason, principal, spoofed);

  const destinationPrincipal = destination.principal ?? "";
  const destinationId = destinationPrincipal === "" ? null : parseSpiffeId(destinationPrincipal);
  const extensions = attributes.contextExtensions;
  let destinationNamespace = destinationId?.ok ? kubernetesNamespaceOf(destinationId.id.path) : "";
  if (destinationNamespace === "" && extensions && Object.hasOwn(extensions, NAMESPACE_EXTENSION)) {
    destinationNamespace = extensions[NAMESPACE_EXTENSION]!;
  }
  if (destinationNamespace === "") {
    return reject(
      "destination",
      "destination workload unknown: destination.principal carries no /ns/<namespace>/ and context_extensions has no trustgate.namespace",
      principal,
      spoofed,
    );
  }

  const caller = identity.identity;
  const callerPath = caller.spiffeId?.path ?? "";
  const callerNamespace = kubernetesNamespaceOf(callerPath);
  const callerServiceAccount = kubernetesServiceAccountOf(callerPath);
  const sourceAddress = addressOf(source.address);
  const destinationAddress = addressOf(destination.address);
  const callerUri = caller.spiffeId?.uri ?? "";

  const model = new RequestModel(
    {
      ip: sourceAddress.ip,
      port: sourceAddress.port,
      principal: callerUri,
      principalBody: callerUri === "" ? "" : callerUri.slice("spiffe://".length),
      trustDomain: caller.spiffeId?.trustDomain ?? "",
      namespace: callerNamespace,
      serviceAccount: callerServiceAccount === "" ? "" : `${callerNamespace}/${callerServiceAccount}`,
      certificateFingerprint: caller.fingerprint,
      certificateSubject: caller.subject,
      mtls: caller.mtls,
    },
    {
      ip: destinationAddress.ip,
      port: destinationAddress.port,
      principal: destinationId?.ok ? destinationPrincipal : "",
      namespace: destinationNamespace,
      labels: destinationLabels(
        destination.labels,
        extensions,
        destinationId?.ok && env.labelsOf ? env.labelsOf(destinationPrincipal) : undefined,
      ),
    },
    http,
    attributes.tlsSession?.sni ?? "",
    env.risk,
  );
  return { ok: true, model, spoofedHeaders: spoofed };
}
