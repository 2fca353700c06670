/**
 * Works out who the caller is from what Envoy (and, when configured, trustgate's own wasm filter) reports, and
 * refuses any identity that is malformed, inconsistent, expired or from a trust domain that is not allowed.
 *
 * Sources, strongest first:
 *  - `source.certificate`: the peer's leaf certificate (Envoy `include_peer_certificate: true`);
 *  - `source.principal`: the first URI SAN of the peer certificate, filled by Envoy from the TLS connection;
 *  - the `x-trustgate-peer-*` headers written by trustgate's wasm filter — only when the sidecars are configured to
 *    run it (`trustFilterHeaders`); otherwise a client could have sent them, so they are ignored.
 * When two sources name the caller, they must agree; a disagreement is a rejection, never a guess.
 */
import type { CertificateCache } from "./certificate-cache.js";
import { FINGERPRINT_FORMAT, isFingerprint } from "./fingerprint.js";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.js";
import { validityError } from "./svid.js";

export const FILTER_HEADER_PREFIX = "x-trustgate-peer-";
export const FILTER_SPIFFE_ID_HEADER = "x-trustgate-peer-spiffe-id";
export const FILTER_FINGERPRINT_HEADER = "x-trustgate-peer-cert-sha256";
export const FILTER_SUBJECT_HEADER = "x-trustgate-peer-cert-subject";

export interface CallerIdentity {
  /** null for a caller without (m)TLS identity. */
  readonly spiffeId: SpiffeId | null;
  readonly fingerprint: string;
  readonly subject: string;
  readonly mtls: boolean;
}

export type CallerIdentityResult = { ok: true; identity: CallerIdentity } | { ok: false; reason: string };

export interface IdentitySettings {
  /** Allowed trust domains; empty means any. */
  readonly trustDomains: ReadonlySet<string>;
  /** The sidecars run trustgate's wasm filter, so its `x-trustgate-peer-*` headers are facts, not claims. */
  readonly trustFilterHeaders: boolean;
  /**
   * Accept the filter's SPIFFE ID when Envoy reports no peer principal. The filter reads the same connection Envoy
   * does, so on one hop the two always agree: a filter header without a principal is a client's forgery that the
   * filter never got to strip (in Istio a WasmPlugin runs after the CUSTOM ext_authz call). Only a deployment where
   * the filter is guaranteed to run first on another hop may turn this on.
   */
  readonly filterIdentityWithoutPeer?: boolean;
  /** Operator revocations: a revoked identity or certificate is refused whatever the policies say. */
  readonly revocations?: RevocationLookup;
}

export interface RevocationLookup {
  readonly hasOperatorRevocations: boolean;
  identityRevocation(spiffeId: string): { reason: string } | undefined;
  fingerprintRevocation(fingerprint: string): { reason: string } | undefined;
}

export interface IdentityInputs {
  readonly principal: string;
  readonly certificate: string;
  /** Lower-cased request headers, or null for a TCP check. */
  readonly headers: Readonly<Record<string, string>> | null;
}

const ANONYMOUS: CallerIdentity = Object.freeze({ spiffeId: null, fingerprint: "", subject: "", mtls: false });

function header(headers: Readonly<Record<string, string>> | null, name: string): string | undefined {
  return headers !== null && Object.hasOwn(headers, name) ? headers[name] : undefined;
}

function reject(reason: string): CallerIdentityResult {
  return { ok: false, reason };
}

export function resolveCallerIdentity(
  inputs: IdentityInputs,
  settings: IdentitySettings,
  certificates: CertificateCache,
  nowMs: number,
): CallerIdentityResult {
  let spiffeId: SpiffeId | null = null;
  let fingerprint = "";
  let subject = "";
  let mtls = false;

  if (inputs.principal !== "") {
    const parsed = parseSpiffeId(inputs.principal);
    if (!parsed.ok) return reject(`peer principal "${inputs.principal}" is not a valid SPIFFE ID: ${parsed.error}`);
    spiffeId = parsed.id;
    mtls = true;
  }

  if (inputs.certificate !== "") {
    const cert = certificates.get(inputs.certificate);
    if (!cert.ok) return reject(`peer certificate rejected: ${cert.error}`);
    const invalid = validityError(cert.facts, nowMs);
    if (invalid) return reject(`peer certificate rejected: ${invalid}`);
    if (spiffeId !== null && spiffeId.uri !== cert.facts.spiffeId.uri) {
      return reject(
        `peer principal "${spiffeId.uri}" does not match the certificate's SPIFFE ID "${cert.facts.spiffeId.uri}"`,
      );
    }
    spiffeId = cert.facts.spiffeId;
    fingerprint = cert.facts.fingerprint;
    subject = cert.facts.subject;
    mtls = true;
  }

  if (settings.trustFilterHeaders) {
    const claimedId = header(inputs.headers, FILTER_SPIFFE_ID_HEADER);
    if (claimedId !== undefined && claimedId !== "") {
      if (spiffeId === null) {
        if (settings.filterIdentityWithoutPeer !== true) {
          return reject(
            `wasm filter SPIFFE ID "${claimedId}" on a connection where Envoy reports no peer principal: the filter did not set it (it runs after ext_authz, or not at all), so it is the caller's claim`,
          );
        }
        const parsed = parseSpiffeId(claimedId);
        if (!parsed.ok) return reject(`wasm filter SPIFFE ID "${claimedId}" is not valid: ${parsed.error}`);
        spiffeId = parsed.id;
        mtls = true;
      } else if (spiffeId.uri !== claimedId) {
        return reject(`wasm filter SPIFFE ID "${claimedId}" does not match the peer principal "${spiffeId.uri}"`);
      }
    }
    const claimedFingerprint = header(inputs.headers, FILTER_FINGERPRINT_HEADER);
    if (claimedFingerprint !== undefined && claimedFingerprint !== "") {
      if (!isFingerprint(claimedFingerprint)) {
        return reject(`wasm filter certificate fingerprint "${claimedFingerprint}" is not ${FINGERPRINT_FORMAT}`);
      }
      if (fingerprint === "") fingerprint = claimedFingerprint;
      else if (fingerprint !== claimedFingerprint) {
        return reject("wasm filter certificate fingerprint does not match the peer certificate");
      }
    }
    // The subject is informational: Envoy's and trustgate's RFC 2253 renderings can differ in escaping details, so
    // the certificate's own subject wins when both exist instead of rejecting on a formatting difference.
    const claimedSubject = header(inputs.headers, FILTER_SUBJECT_HEADER);
    if (subject === "" && claimedSubject !== undefined) subject = claimedSubject;
  }

  if (spiffeId === null) {
    return fingerprint === "" ? { ok: true, identity: ANONYMOUS } : reject("certificate fingerprint without identity");
  }
  if (spiffeId.path === "") return reject(`caller SPIFFE ID "${spiffeId.uri}" has no path; it cannot be a workload`);
  if (settings.trustDomains.size > 0 && !settings.trustDomains.has(spiffeId.trustDomain)) {
    return reject(`trust domain "${spiffeId.trustDomain}" is not allowed`);
  }
  const revocations = settings.revocations;
  if (revocations?.hasOperatorRevocations) {
    const byId = revocations.identityRevocation(spiffeId.uri);
    if (byId) return reject(`identity ${spiffeId.uri} is revoked by an operator: ${byId.reason}`);
    const byFingerprint = fingerprint === "" ? undefined : revocations.fingerprintRevocation(fingerprint);
    if (byFingerprint) return reject(`certificate ${fingerprint} is revoked by an operator: ${byFingerprint.reason}`);
  }
  return { ok: true, identity: { spiffeId, fingerprint, subject, mtls } };
}

/**
 * Whether a (lower-case) header name is one of the filter's, reading "_" as "-": Envoy forwards underscore names by
 * default, and CGI-style stacks (WSGI, Rack, PHP) read `x_trustgate_peer_spiffe_id` as the filter's header.
 */
function isFilterHeaderName(name: string): boolean {
  if (name.length < FILTER_HEADER_PREFIX.length) return false;
  for (let i = 0; i < FILTER_HEADER_PREFIX.length; i++) {
    const c = name.charCodeAt(i);
    if ((c === 0x5f ? 0x2d : c) !== FILTER_HEADER_PREFIX.charCodeAt(i)) return false;
  }
  return true;
}

/** Names of identity headers present in a request that no trusted filter wrote (a spoofing attempt). */
export function spoofedIdentityHeaders(headers: Readonly<Record<string, string>> | null): string[] | null {
  if (headers === null) return null;
  let found: string[] | null = null;
  for (const name in headers) {
    if (!isFilterHeaderName(name)) continue;
    if (found === null) found = [];
    found.push(name);
  }
  return found;
}
