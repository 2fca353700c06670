/**
 * `hosts` / `notHosts`. Istio compares the whole `:authority`, port included, ASCII case-insensitively: `hosts:
 * [example.com]` does not match `example.com:8080` nor `example.com.` (istiod never enables Envoy's port or
 * trailing-dot stripping). That exact matcher is what ALLOW rules and every negated check use.
 *
 * For positive checks in DENY rules, `HostWideMatcher` also matches the same host with a trailing dot and with any
 * port, on both sides: a DENY on `admin.internal` also denies `admin.internal.`, `admin.internal:443` and
 * `Admin.Internal.:443`, which DNS and most servers treat as the same name. A malformed authority is also read the
 * way a lenient server would read it (surrounding white space, `user@`, percent-escapes and everything from the
 * first `:` dropped): ` admin.internal`, `x@admin.internal`, `admin%2Einternal`, `admin.internal:443:443`.
 */
import type { RequestModel } from "../../model/request-model.js";
import { asciiLowerCase } from "../../util/ascii.js";
import { type Pattern, PatternSet } from "./istio-pattern.js";
import type { Matcher } from "./matcher.js";
import { StringMatcher } from "./string-matcher.js";

const readHost = (model: RequestModel) => model.http?.host;

export function hostMatcher(patterns: readonly Pattern[]): Matcher {
  return new StringMatcher(readHost, patterns, { anyIncludesEmpty: true, transform: asciiLowerCase });
}

/** Splits `host[:port]` (IPv6 literals in brackets) into the host and the `:port` suffix ("" without a port). */
function splitPort(authority: string): [string, string] {
  const close = authority.lastIndexOf("]");
  const colon = authority.lastIndexOf(":");
  if (colon <= close) return [authority, ""];
  const port = authority.slice(colon + 1);
  return /^\d*$/.test(port) ? [authority.slice(0, colon), authority.slice(colon)] : [authority, ""];
}

function withoutTrailingDots(host: string): string {
  let end = host.length;
  while (end > 1 && host.charCodeAt(end - 1) === 0x2e) end--;
  return end === host.length ? host : host.slice(0, end);
}

/** The authority with trailing dots removed from its host part (`a.b.:443` → `a.b:443`). */
function canonicalAuthority(authority: string): string {
  const [host, port] = splitPort(authority);
  const bare = withoutTrailingDots(host);
  return bare === host ? authority : bare + port;
}

/** Plain authorities (letters, digits, `-`, `.`, an optional `:port`) need no lenient reading. */
const PLAIN_AUTHORITY = /^[A-Za-z0-9.-]*(:\d*)?$/;

/**
 * The host a lenient server reads from a malformed authority, or null when the authority is plain or an IPv6
 * literal (the other readings cover those).
 */
export function lenientHost(authority: string): string | null {
  if (PLAIN_AUTHORITY.test(authority)) return null;
  let host = authority.trim();
  const at = host.lastIndexOf("@");
  if (at >= 0) host = host.slice(at + 1);
  if (host.includes("%")) {
    try {
      host = decodeURIComponent(host);
    } catch {
      // Not valid percent-encoding: read as written.
    }
  }
  if (host.startsWith("[")) return null;
  const colon = host.indexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  return withoutTrailingDots(host.trim());
}

export class HostWideMatcher implements Matcher {
  private readonly set: PatternSet;

  constructor(patterns: readonly Pattern[]) {
    // Exact and suffix values lose their trailing dots like the request does; a prefix value is kept as written
    // (`admin.*` must not become `admin*`).
    const canonical = patterns.map(
      (p): Pattern =>
        p.kind === "exact" || p.kind === "suffix"
          ? { kind: p.kind, value: canonicalAuthority(asciiLowerCase(p.value)) }
          : p,
    );
    this.set = new PatternSet(canonical, { anyIncludesEmpty: true, transform: asciiLowerCase });
  }

  matches(model: RequestModel): boolean {
    const host = model.http?.host;
    if (host === undefined) return false;
    const canonical = canonicalAuthority(host);
    if (this.set.test(canonical)) return true;
    const [bare, port] = splitPort(canonical);
    if (port !== "" && this.set.test(withoutTrailingDots(bare))) return true;
    const lenient = lenientHost(host);
    return lenient !== null && this.set.test(lenient);
  }
}
