/**
 * Istio's value patterns, read the way istiod turns a policy value into an Envoy string matcher: `*` alone matches
 * any value; a leading `*` makes a suffix match, else a trailing `*` a prefix match; anything else — including a `*`
 * in the middle — is an exact match of the literal text. Every string is a valid pattern.
 */

export type Pattern =
  | { kind: "any" }
  | { kind: "exact"; value: string }
  | { kind: "prefix"; value: string }
  | { kind: "suffix"; value: string };

export function istioPattern(raw: string): Pattern {
  if (raw === "*") return { kind: "any" };
  if (raw.startsWith("*")) return { kind: "suffix", value: raw.slice(1) };
  if (raw.endsWith("*")) return { kind: "prefix", value: raw.slice(0, -1) };
  return { kind: "exact", value: raw };
}

/** True for a `*` that istiod reads literally (not at the start or the end of the value). */
export function hasLiteralStar(raw: string): boolean {
  return raw.length > 2 && raw.slice(1, -1).includes("*");
}

export interface PatternOptions {
  /**
   * What `*` matches: any value including "" (Envoy's `present_match`, used for headers, hosts and methods) or only
   * a non-empty one (the regex `.+` istiod emits for every other field).
   */
  readonly anyIncludesEmpty: boolean;
  /** Applied to every pattern value at build time (e.g. ASCII lower-casing for case-insensitive fields). */
  readonly transform?: (s: string) => string;
}

/** A list of patterns matched against one string: any pattern matching is a match. */
export class PatternSet {
  private any = false;
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly suffixes: string[] = [];
  private readonly anyIncludesEmpty: boolean;

  constructor(patterns: readonly Pattern[], options: PatternOptions) {
    const t = options.transform ?? ((s: string) => s);
    this.anyIncludesEmpty = options.anyIncludesEmpty;
    for (const p of patterns) {
      if (p.kind === "any") this.any = true;
      else if (p.kind === "exact") this.exact.add(t(p.value));
      else if (p.kind === "prefix") this.prefixes.push(t(p.value));
      else this.suffixes.push(t(p.value));
    }
  }

  test(value: string): boolean {
    if (this.any && (this.anyIncludesEmpty || value !== "")) return true;
    if (this.exact.has(value)) return true;
    for (const p of this.prefixes) if (value.startsWith(p)) return true;
    for (const s of this.suffixes) if (value.endsWith(s)) return true;
    return false;
  }
}
