/**
 * The caller-identity fields, matched the way Envoy's RBAC matches what istiod generates for them: against the
 * caller's whole SPIFFE ID (the peer certificate's URI SAN), and never for a caller without mTLS identity.
 *  - principals: `spiffe://` + the value (exact, prefix, suffix; `*` = any identity). A value written with
 *    `spiffe://` therefore never matches; `PrincipalWideMatcher` (DENY rules only) reads it without the prefix.
 *  - namespaces: the regex `.*` `/ns/<value>/` `.*` over the URI, a `*` in the value matching anything.
 *  - serviceAccounts: the regex `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`, dots literal.
 *  - trustDomains: `spiffe://<td>/…`, with `*` as a prefix or suffix wildcard inside the trust domain.
 */
import type { RequestModel } from "../../model/request-model.js";
import { globMatches } from "./glob.js";
import { type Pattern, sortPatterns } from "./istio-pattern.js";
import type { Matcher } from "./matcher.js";

const SCHEME = "spiffe://";

/** Istio principal patterns over the full URI (`spiffe://` is put in front of every value except `*`). */
export class PrincipalMatcher implements Matcher {
  private readonly any: boolean;
  private readonly exact: ReadonlySet<string> | null;
  private readonly prefixes: readonly string[];
  private readonly suffixes: readonly string[];

  constructor(patterns: readonly Pattern[]) {
    // Exact and prefix values are matched against the whole URI; suffixes as written (see test).
    const sorted = sortPatterns(patterns, (p) =>
      p.kind === "suffix" ? p.value : p.kind === "any" ? "" : SCHEME + p.value,
    );
    this.any = sorted.any;
    this.exact = sorted.exact;
    this.prefixes = sorted.prefixes;
    this.suffixes = sorted.suffixes;
  }

  matches(model: RequestModel): boolean {
    return this.test(model.source.principal);
  }

  test(uri: string): boolean {
    if (uri === "") return false;
    if (this.any || this.exact?.has(uri)) return true;
    for (const p of this.prefixes) if (uri.startsWith(p)) return true;
    // Envoy: the regex `spiffe://.*<suffix>` — the suffix must fit after the scheme.
    for (const s of this.suffixes) {
      if (uri.length >= SCHEME.length + s.length && uri.startsWith(SCHEME) && uri.endsWith(s)) return true;
    }
    return false;
  }
}

/** Namespace values as glob pieces of `*` + `/ns/<value>/` + `*`. */
export class NamespaceMatcher implements Matcher {
  private readonly globs: string[][];

  constructor(values: readonly string[]) {
    this.globs = values.map((v) => `*/ns/${v}/*`.split("*"));
  }

  matches(model: RequestModel): boolean {
    const uri = model.source.principal;
    if (uri === "") return false;
    for (const g of this.globs) if (globMatches(g, uri)) return true;
    return false;
  }
}

/** `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` without a regular expression. */
function serviceAccountMatches(uri: string, ns: string, sa: string): boolean {
  if (!uri.startsWith(SCHEME)) return false;
  const nsPart = `/ns/${ns}/`;
  const saPart = `sa/${sa}`;
  for (let i = uri.indexOf(nsPart, SCHEME.length + 1); i !== -1; i = uri.indexOf(nsPart, i + 1)) {
    const after = i + nsPart.length;
    for (let j = uri.indexOf(saPart, after); j !== -1; j = uri.indexOf(saPart, j + 1)) {
      // Either `sa/` follows the namespace directly, or after at least one character and a `/`.
      if (j !== after && !(j - 1 > after && uri.charCodeAt(j - 1) === 0x2f)) continue;
      const end = j + saPart.length;
      if (end === uri.length || (uri.charCodeAt(end) === 0x2f && uri.length > end + 1)) return true;
    }
  }
  return false;
}

export class ServiceAccountMatcher implements Matcher {
  constructor(private readonly accounts: ReadonlyArray<readonly [namespace: string, serviceAccount: string]>) {}

  matches(model: RequestModel): boolean {
    const uri = model.source.principal;
    if (uri === "") return false;
    for (const [ns, sa] of this.accounts) if (serviceAccountMatches(uri, ns, sa)) return true;
    return false;
  }
}

/** Trust domain values: `*`, `td`, `prefix*` or `*suffix` (istiod refuses any other use of `*`). */
export class TrustDomainMatcher implements Matcher {
  private readonly checks: Array<(uri: string) => boolean>;

  constructor(values: readonly string[]) {
    this.checks = values.map((v) => {
      if (v === "*") return (uri: string) => uri.startsWith(SCHEME);
      const star = v.indexOf("*");
      if (star === -1) {
        const prefix = `${SCHEME}${v}/`;
        return (uri: string) => uri.startsWith(prefix);
      }
      const before = v.slice(0, star);
      const after = v.slice(star + 1);
      return (uri: string) => {
        if (!uri.startsWith(SCHEME)) return false;
        const slash = uri.indexOf("/", SCHEME.length);
        if (slash === -1) return false;
        const td = uri.slice(SCHEME.length, slash);
        return td.length >= before.length + after.length && td.startsWith(before) && td.endsWith(after);
      };
    });
  }

  matches(model: RequestModel): boolean {
    const uri = model.source.principal;
    if (uri === "") return false;
    for (const check of this.checks) if (check(uri)) return true;
    return false;
  }
}
