/**
 * Trust-domain aliases, applied to policy values at load time as istiod does before generating Envoy config. The
 * bundle is the mesh's trust domain followed by its aliases. A principal value of the form `<td>/ns/<ns>/sa/<sa>`
 * (five `/`-separated parts, trust domain not `*`) whose trust domain is in the bundle — or is `cluster.local`, which
 * always means "this mesh" — becomes one value per bundle entry with that trust domain; other values stay as they
 * are. So in a mesh whose trust domain is `td1`, `cluster.local/ns/foo/sa/sleep` means `td1/ns/foo/sa/sleep` (and
 * the aliases'), not the literal `cluster.local` one. `trustDomains` values equal to a bundle entry stand for every
 * entry.
 */

export const CLUSTER_LOCAL = "cluster.local";

export interface TrustDomainBundle {
  /** The mesh trust domain first, then its aliases. */
  readonly trustDomains: readonly string[];
}

export const DEFAULT_BUNDLE: TrustDomainBundle = Object.freeze({ trustDomains: Object.freeze([CLUSTER_LOCAL]) });

export function trustDomainBundle(meshTrustDomain: string, aliases: readonly string[]): TrustDomainBundle {
  return { trustDomains: [meshTrustDomain, ...aliases] };
}

function prefixMatch(a: string, pattern: string): boolean {
  return pattern.endsWith("*") && a.startsWith(pattern.slice(0, -1));
}

function suffixMatch(a: string, pattern: string): boolean {
  return pattern.startsWith("*") && a.endsWith(pattern.slice(1));
}

/** istiod's loose comparison: equal, or a `*` prefix/suffix pattern on either side. */
function looselyMatches(a: string, list: readonly string[]): boolean {
  return list.some(
    (s) => a === s || s === "*" || prefixMatch(a, s) || prefixMatch(s, a) || suffixMatch(a, s) || suffixMatch(s, a),
  );
}

/** Principal values with trust-domain aliases applied (order kept, duplicates removed per value). */
export function withTrustDomainAliases(bundle: TrustDomainBundle, principals: readonly string[]): string[] {
  const out: string[] = [];
  for (const principal of principals) {
    const parts = principal.split("/");
    if (parts.length !== 5 || parts[0] === "*") {
      out.push(principal);
      continue;
    }
    const td = parts[0]!;
    if (!looselyMatches(td, bundle.trustDomains) && td !== CLUSTER_LOCAL) {
      out.push(principal);
      continue;
    }
    const replaced: string[] = [];
    for (const entry of bundle.trustDomains) {
      const value = suffixMatch(entry, td) ? principal : [entry, ...parts.slice(1)].join("/");
      if (!replaced.includes(value)) replaced.push(value);
    }
    out.push(...replaced);
  }
  return out;
}

/** `trustDomains` values with every bundle entry standing for the whole bundle. */
export function expandTrustDomains(bundle: TrustDomainBundle, values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const td of bundle.trustDomains.includes(v) ? bundle.trustDomains : [v]) if (!out.includes(td)) out.push(td);
  }
  return out;
}
