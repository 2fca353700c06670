/**
 * SPIFFE ID parsing and validation, strictly per the SPIFFE-ID standard:
 * `spiffe://<trust-domain><path>`, lower-case trust domain of [a-z0-9.-_], path segments of [a-zA-Z0-9.-_],
 * no empty/dot segments, no trailing slash, no percent-encoding, no query, fragment, port or userinfo.
 */

export interface SpiffeId {
  /** The full ID, e.g. `spiffe://cluster.local/ns/services/sa/order`. */
  readonly uri: string;
  readonly trustDomain: string;
  /** The path including its leading slash, or "" for a trust-domain-only ID. */
  readonly path: string;
}

export type SpiffeIdResult = { ok: true; id: SpiffeId } | { ok: false; error: string };

const SCHEME = "spiffe://";
/** Implementations must support IDs up to 2048 bytes; longer ones are refused rather than guessed at. */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** The trust domain is a URI host: at most 255 bytes. */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

function isTrustDomainChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || // .
    c === 0x2d || // -
    c === 0x5f // _
  );
}

function isPathChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a); // plus A-Z
}

/** Validates a trust domain name (without scheme). Returns an error message or null. */
export function trustDomainError(td: string): string | null {
  if (td.length === 0) return "trust domain is missing";
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} bytes`;
  for (let i = 0; i < td.length; i++) {
    if (!isTrustDomainChar(td.charCodeAt(i))) {
      return "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores";
    }
  }
  return null;
}

/** Validates a SPIFFE ID path ("" or "/seg/seg"). Returns an error message or null. */
export function pathError(path: string): string | null {
  if (path.length === 0) return null;
  if (path.charCodeAt(0) !== 0x2f) return "path must have a leading slash";
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i === path.length ? 0x2f : path.charCodeAt(i);
    if (c === 0x2f) {
      const length = i - segmentStart;
      if (length === 0) {
        return i === path.length ? "path cannot have a trailing slash" : "path cannot contain empty segments";
      }
      if (
        (length === 1 && path.charCodeAt(segmentStart) === 0x2e) ||
        (length === 2 && path.charCodeAt(segmentStart) === 0x2e && path.charCodeAt(segmentStart + 1) === 0x2e)
      ) {
        return "path cannot contain dot segments";
      }
      segmentStart = i + 1;
      continue;
    }
    if (!isPathChar(c)) return "path segment characters are limited to letters, numbers, dots, dashes, and underscores";
  }
  return null;
}

/**
 * Every Check parses its caller's and its destination's IDs, and a mesh has few distinct ones: valid IDs are
 * remembered (frozen, so sharing them is safe). Bounded: when full it starts over.
 */
const parsed = new Map<string, SpiffeIdResult>();
const MAX_REMEMBERED = 4096;

export function parseSpiffeId(input: string): SpiffeIdResult {
  const known = parsed.get(input);
  if (known !== undefined) return known;
  const result = parseUncached(input);
  if (result.ok) {
    if (parsed.size >= MAX_REMEMBERED) parsed.clear();
    Object.freeze(result.id);
    parsed.set(input, Object.freeze(result));
  }
  return result;
}

function parseUncached(input: string): SpiffeIdResult {
  if (input.length === 0) return { ok: false, error: "SPIFFE ID cannot be empty" };
  if (input.length > MAX_SPIFFE_ID_LENGTH) {
    return { ok: false, error: `SPIFFE ID is longer than ${MAX_SPIFFE_ID_LENGTH} bytes` };
  }
  // The scheme is matched exactly: "Spiffe://" or "SPIFFE://" are refused like go-spiffe does.
  if (!input.startsWith(SCHEME)) return { ok: false, error: "scheme is missing or invalid" };
  const rest = input.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  const tdError = trustDomainError(trustDomain);
  if (tdError) return { ok: false, error: tdError };
  const pError = pathError(path);
  if (pError) return { ok: false, error: pError };
  return { ok: true, id: { uri: input, trustDomain, path } };
}

/**
 * Reads the Kubernetes convention `/ns/<namespace>/sa/<serviceaccount>` out of a SPIFFE ID path.
 * Returns "" for parts the path does not carry (the convention is an administrator's choice, not a guarantee).
 */
export function kubernetesNamespaceOf(path: string): string {
  if (!path.startsWith("/ns/")) return "";
  const end = path.indexOf("/", 4);
  return end === -1 ? path.slice(4) : path.slice(4, end);
}

export function kubernetesServiceAccountOf(path: string): string {
  const ns = kubernetesNamespaceOf(path);
  if (ns === "") return "";
  const rest = path.slice(4 + ns.length);
  if (!rest.startsWith("/sa/")) return "";
  const end = rest.indexOf("/", 4);
  return end === -1 ? rest.slice(4) : rest.slice(4, end);
}
