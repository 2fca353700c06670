// SPIFFE ID syntax (SPIFFE standard, "SPIFFE-ID"), checked strictly on raw bytes without allocating:
//   spiffe://<trust-domain>/<segment>(/<segment>)*
// trust domain: 1..255 of [a-z0-9.-_] (lower case only, no port, no userinfo);
// path segments: non-empty, [a-zA-Z0-9.-_], never "." or ".."; no query, fragment, percent-encoding,
// trailing slash. A workload identity must have a path: a bare trust domain ID names no workload.

export const enum SpiffeError {
  None = 0,
  Empty,
  TooLong,
  Scheme,
  EmptyTrustDomain,
  TrustDomainTooLong,
  TrustDomainChar,
  NoPath,
  EmptySegment,
  DotSegment,
  PathChar,
  TrailingSlash,
}

export const MAX_SPIFFE_ID_LENGTH: usize = 2048;
const MAX_TRUST_DOMAIN_LENGTH: usize = 255;
export const SCHEME_LENGTH: usize = 9; // "spiffe://"

/** Length of the trust domain of the last ID that validated (it starts at byte 9). */
export let lastTrustDomainLength: usize = 0;

function isTrustDomainChar(c: u32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f;
}

function isPathChar(c: u32): bool {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f
  );
}

export function validateSpiffeId(ptr: usize, len: usize): SpiffeError {
  lastTrustDomainLength = 0;
  if (len == 0) return SpiffeError.Empty;
  if (len > MAX_SPIFFE_ID_LENGTH) return SpiffeError.TooLong;
  if (
    len < SCHEME_LENGTH ||
    load<u8>(ptr) != 0x73 || // s
    load<u8>(ptr, 1) != 0x70 || // p
    load<u8>(ptr, 2) != 0x69 || // i
    load<u8>(ptr, 3) != 0x66 || // f
    load<u8>(ptr, 4) != 0x66 || // f
    load<u8>(ptr, 5) != 0x65 || // e
    load<u8>(ptr, 6) != 0x3a || // :
    load<u8>(ptr, 7) != 0x2f || // /
    load<u8>(ptr, 8) != 0x2f // /
  ) {
    return SpiffeError.Scheme;
  }
  let i = SCHEME_LENGTH;
  while (i < len && load<u8>(ptr + i) != 0x2f) {
    if (!isTrustDomainChar(load<u8>(ptr + i))) return SpiffeError.TrustDomainChar;
    i++;
  }
  const tdLen = i - SCHEME_LENGTH;
  if (tdLen == 0) return SpiffeError.EmptyTrustDomain;
  if (tdLen > MAX_TRUST_DOMAIN_LENGTH) return SpiffeError.TrustDomainTooLong;
  if (i == len) return SpiffeError.NoPath;
  // Path: i points at a '/'.
  while (i < len) {
    i++; // skip '/'
    const segStart = i;
    while (i < len && load<u8>(ptr + i) != 0x2f) {
      if (!isPathChar(load<u8>(ptr + i))) return SpiffeError.PathChar;
      i++;
    }
    const segLen = i - segStart;
    if (segLen == 0) return i == len ? SpiffeError.TrailingSlash : SpiffeError.EmptySegment;
    if (load<u8>(ptr + segStart) == 0x2e && (segLen == 1 || (segLen == 2 && load<u8>(ptr + segStart + 1) == 0x2e))) {
      return SpiffeError.DotSegment;
    }
  }
  lastTrustDomainLength = tdLen;
  return SpiffeError.None;
}

export function describeSpiffeError(e: SpiffeError): string {
  switch (e) {
    case SpiffeError.Empty:
      return "it is empty";
    case SpiffeError.TooLong:
      return "it is longer than 2048 bytes";
    case SpiffeError.Scheme:
      return 'it does not start with "spiffe://"';
    case SpiffeError.EmptyTrustDomain:
      return "the trust domain is empty";
    case SpiffeError.TrustDomainTooLong:
      return "the trust domain is longer than 255 bytes";
    case SpiffeError.TrustDomainChar:
      return "the trust domain has a character outside [a-z0-9.-_] (upper case, port, userinfo are not allowed)";
    case SpiffeError.NoPath:
      return "it has no path (a trust domain ID is not a workload identity)";
    case SpiffeError.EmptySegment:
      return "the path has an empty segment";
    case SpiffeError.DotSegment:
      return 'the path has a "." or ".." segment';
    case SpiffeError.PathChar:
      return "the path has a character outside [a-zA-Z0-9.-_] (no query, fragment or percent-encoding)";
    case SpiffeError.TrailingSlash:
      return "the path ends with a slash";
    default:
      return "it is valid";
  }
}

/** Trust domain names in configuration follow the same character rules. */
export function validTrustDomainName(s: string): bool {
  if (s.length == 0 || <usize>s.length > MAX_TRUST_DOMAIN_LENGTH) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTrustDomainChar(s.charCodeAt(i))) return false;
  }
  return true;
}
