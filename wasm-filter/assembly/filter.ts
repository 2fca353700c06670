// The per-request work (proxy_on_request_headers): strip forged identity headers, read the peer
// certificate facts Envoy exposes as connection properties, apply the local denies, and add the
// trusted x-trustgate-* headers; then strip the same names from request trailers
// (proxy_on_request_trailers). The allow path allocates nothing on the GC heap.
import { HeadersAction, MapType, TrailersAction } from "./abi";
import { Config } from "./config";
import { STRIP_REFUSED, safeHeaderValue, setHeader, setHeaderBytes, stripForgedHeaders } from "./headers";
import { getProperty, HostBuffer } from "./hostcalls";
import { DenyCheck, sendDeny } from "./local-reply";
import { increment, metrics } from "./metrics";
import { RootContext } from "./root";
import { describeSpiffeError, lastTrustDomainLength, SCHEME_LENGTH, SpiffeError, validateSpiffeId } from "./spiffe";

const MTLS = String.UTF8.encode("connection\0mtls");
const URI_SAN = String.UTF8.encode("connection\0uri_san_peer_certificate");
const SHA256 = String.UTF8.encode("connection\0sha256_peer_certificate_digest");
const SUBJECT = String.UTF8.encode("connection\0subject_peer_certificate");
const TRUE = String.UTF8.encode("true");
const FALSE = String.UTF8.encode("false");

const mtlsValue = new HostBuffer();
const uriSan = new HostBuffer();
const digest = new HostBuffer();
const subject = new HostBuffer();

// "sha256:" + 64 lower-case hex digits, rebuilt in place per request.
const FINGERPRINT_LENGTH: usize = 71;
const fingerprint: usize = memory.data(72);
memory.copy(fingerprint, changetype<usize>(String.UTF8.encode("sha256:")), 7);

function releaseAll(): void {
  mtlsValue.release();
  uriSan.release();
  digest.release();
  subject.release();
}

/** Envoy gives the digest as hex; accept exactly 32 bytes of hex and write the lower-case header value. */
function buildFingerprint(): bool {
  if (!digest.present || digest.len != 64) return false;
  for (let i: usize = 0; i < 64; i++) {
    let c = <u32>load<u8>(digest.ptr + i);
    if (c >= 0x41 && c <= 0x46) c += 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    store<u8>(fingerprint + 7 + i, <u8>c);
  }
  return true;
}

function trustDomainAllowed(cfg: Config, ptr: usize, len: usize): bool {
  const allowed = cfg.trustDomainBytes;
  if (allowed.length == 0) return true;
  for (let i = 0; i < allowed.length; i++) {
    const td = unchecked(allowed[i]);
    if (<usize>td.byteLength == len && memory.compare(changetype<usize>(td), ptr, len) == 0) return true;
  }
  return false;
}

function deny(check: DenyCheck, reason: string): u32 {
  increment(metrics.localDenies);
  if (check == DenyCheck.RequireMtls) increment(metrics.deniesRequireMtls);
  else if (check == DenyCheck.TrustDomain) increment(metrics.deniesTrustDomain);
  else if (check == DenyCheck.Revoked) increment(metrics.deniesRevoked);
  else if (check == DenyCheck.InvalidIdentity) increment(metrics.deniesInvalidIdentity);
  return sendDeny(check, reason);
}

/** Quotes a peer-supplied value for a deny reason, bounded so a huge SAN cannot bloat the reply. */
function quoted(buf: HostBuffer): string {
  const max: usize = 256;
  if (buf.len <= max) return '"' + buf.toString() + '"';
  return '"' + String.UTF8.decodeUnsafe(buf.ptr, max) + '…"';
}

export function onRequestHeaders(root: RootContext | null): u32 {
  increment(metrics.requests);
  if (root === null || root.config === null) {
    return sendDeny(DenyCheck.FilterError, "trustgate filter has no configuration for this stream");
  }
  const cfg = root.config!;
  const action = check(root, cfg);
  releaseAll();
  return action;
}

function check(root: RootContext, cfg: Config): u32 {
  // 1. Header hygiene always comes first, whatever the decision.
  const removed = stripForgedHeaders(cfg, MapType.RequestHeaders);
  if (removed == STRIP_REFUSED) {
    return sendDeny(DenyCheck.FilterError, "trustgate filter could not remove a forged identity header");
  }
  if (removed < 0) return sendDeny(DenyCheck.FilterError, "trustgate filter could not read the request headers");
  if (removed > 0) increment(metrics.spoofedHeadersRemoved, removed);

  // 2. mTLS: connection.mtls is a 1-byte bool; absent (plain text) means no peer certificate.
  getProperty(MTLS, mtlsValue);
  const mtls = mtlsValue.present && mtlsValue.len == 1 && load<u8>(mtlsValue.ptr) != 0;
  if (!mtls) {
    increment(metrics.mtlsMissing);
    if (cfg.requireMtls) {
      return deny(DenyCheck.RequireMtls, "mutual TLS is required but the client presented no certificate");
    }
    if (!setHeaderBytes(cfg.mtlsHeader, FALSE)) return setRefused();
    return HeadersAction.Continue;
  }

  // 3. Identity: the first URI SAN must be a valid SPIFFE ID.
  getProperty(URI_SAN, uriSan);
  let identityError = "";
  if (!uriSan.present) {
    identityError = "the peer certificate has no URI SAN (no SPIFFE ID)";
  } else {
    const err = validateSpiffeId(uriSan.ptr, uriSan.len);
    if (err != SpiffeError.None) {
      identityError = "the peer certificate URI SAN " + quoted(uriSan) + " is not a valid SPIFFE ID: " + describeSpiffeError(err);
    }
  }
  getProperty(SHA256, digest);
  const haveFingerprint = buildFingerprint();
  if (identityError.length == 0 && !haveFingerprint) {
    identityError = "the peer certificate SHA-256 digest is missing or malformed";
  }
  if (identityError.length > 0 && cfg.requireMtls) return deny(DenyCheck.InvalidIdentity, identityError);
  const identityValid = identityError.length == 0;

  // 4. Trust domain allow-list.
  if (identityValid) {
    const tdPtr = uriSan.ptr + SCHEME_LENGTH;
    const tdLen = lastTrustDomainLength;
    if (!trustDomainAllowed(cfg, tdPtr, tdLen) && cfg.denyForeignTrustDomain) {
      return deny(
        DenyCheck.TrustDomain,
        'trust domain "' + String.UTF8.decodeUnsafe(tdPtr, tdLen) + '" of ' + quoted(uriSan) + " is not allowed",
      );
    }
  }

  // 5. Revocation list (identity or certificate fingerprint).
  if (cfg.denyRevoked) {
    const list = root.list;
    if (identityValid && list.spiffeIds.has(uriSan.ptr, uriSan.len)) {
      return deny(DenyCheck.Revoked, "peer identity " + quoted(uriSan) + " is revoked");
    }
    if (haveFingerprint && list.fingerprints.has(fingerprint, FINGERPRINT_LENGTH)) {
      return deny(
        DenyCheck.Revoked,
        "peer certificate " + String.UTF8.decodeUnsafe(fingerprint, FINGERPRINT_LENGTH) + " is revoked",
      );
    }
  }

  // 6. Trusted facts for ext_authz and the application. A refused write would forward partial facts.
  if (!setHeaderBytes(cfg.mtlsHeader, TRUE)) return setRefused();
  if (identityValid && !setHeader(cfg.spiffeIdHeader, uriSan.ptr, uriSan.len)) return setRefused();
  if (haveFingerprint && !setHeader(cfg.certSha256Header, fingerprint, FINGERPRINT_LENGTH)) return setRefused();
  getProperty(SUBJECT, subject);
  if (subject.present && subject.len > 0 && safeHeaderValue(subject.ptr, subject.len)) {
    if (!setHeader(cfg.certSubjectHeader, subject.ptr, subject.len)) return setRefused();
  }
  return HeadersAction.Continue;
}

function setRefused(): u32 {
  return sendDeny(DenyCheck.FilterError, "trustgate filter could not set an identity header");
}

/**
 * Request trailers (HTTP/2, chunked HTTP/1) carry header fields too, and some stacks merge them into
 * the header view: the same names are stripped there, failing closed the same way.
 */
export function onRequestTrailers(root: RootContext | null): u32 {
  if (root === null || root.config === null) {
    return sendDeny(DenyCheck.FilterError, "trustgate filter has no configuration for this stream");
  }
  const removed = stripForgedHeaders(root.config!, MapType.RequestTrailers);
  if (removed == STRIP_REFUSED) {
    return sendDeny(DenyCheck.FilterError, "trustgate filter could not remove a forged identity trailer");
  }
  if (removed < 0) return sendDeny(DenyCheck.FilterError, "trustgate filter could not read the request trailers");
  if (removed > 0) increment(metrics.spoofedHeadersRemoved, removed);
  return TrailersAction.Continue;
}
