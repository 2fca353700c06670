// SPIFFE IDs named by policies, checked against the identities the mesh actually issues (the SPIRE
// registration entries). A policy naming an identity nobody has is dead code at best and a typo that
// silently denies (or, in a DENY rule, silently fails to deny) at worst.

const ISTIO_PRINCIPAL = /^[a-z0-9._-]+\/ns\/[^/]+\/sa\/[^/]+$/;

/** Every principal-looking string in a parsed policy document: spiffe://… or <td>/ns/<ns>/sa/<sa> (patterns too). */
export function principalStrings(doc: unknown, out: string[] = []): string[] {
  if (typeof doc === "string") {
    const bare = doc.replace(/^\*|\*$/g, "");
    if (doc.startsWith("spiffe://") || ISTIO_PRINCIPAL.test(doc) || (doc.includes("*") && /\/ns\/|\/sa\//.test(bare))) {
      out.push(doc);
    }
  } else if (Array.isArray(doc)) {
    for (const item of doc) principalStrings(item, out);
  } else if (typeof doc === "object" && doc !== null) {
    for (const v of Object.values(doc)) principalStrings(v, out);
  }
  return out;
}

/** Istio principals are written without the scheme; trustgate accepts both forms. */
export function toSpiffeUri(principal: string): string {
  return principal.startsWith("spiffe://") || principal.startsWith("*") ? principal : `spiffe://${principal}`;
}

/** Istio string matching: exact, prefix `abc*`, suffix `*abc`, presence `*`. */
function matches(pattern: string, id: string): boolean {
  if (pattern === "*") return id !== "";
  if (pattern.endsWith("*")) return id.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return id.endsWith(pattern.slice(1));
  return id === pattern;
}

export interface UnknownPrincipal {
  principal: string;
  reason: string;
}

/**
 * Principals in `docs` that name no registered identity: exact IDs must be registered, patterns must match
 * at least one registered ID (the bare presence pattern `*` is always fine).
 */
export function unknownPrincipals(docs: readonly unknown[], registered: readonly string[]): UnknownPrincipal[] {
  const out: UnknownPrincipal[] = [];
  for (const raw of new Set(docs.flatMap((d) => principalStrings(d)))) {
    if (raw === "*") continue;
    const uri = toSpiffeUri(raw);
    if (raw.includes("*")) {
      if (!registered.some((id) => matches(uri, id))) {
        out.push({ principal: raw, reason: "pattern matches no registered SPIFFE ID" });
      }
    } else if (!registered.includes(uri)) {
      out.push({ principal: raw, reason: `${uri} is not a registered SPIFFE ID` });
    }
  }
  return out;
}
