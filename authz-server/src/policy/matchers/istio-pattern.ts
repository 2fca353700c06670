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

const NONE: readonly string[] = Object.freeze([]);

/**
 * Patterns sorted by kind, in the compact form matchers keep: `exact` is null when there is none and the lists are
 * exactly as long as their contents (a large policy set holds tens of thousands of these; arrays grown by push would
 * carry spare capacity and every empty Set its own hash table).
 */
export interface SortedPatterns {
  readonly any: boolean;
  readonly exact: ReadonlySet<string> | null;
  readonly prefixes: readonly string[];
  readonly suffixes: readonly string[];
}

export function sortPatterns(
  patterns: readonly Pattern[],
  transform: (p: Pattern) => string = (p) => (p.kind === "any" ? "" : p.value),
): SortedPatterns {
  let any = false;
  let exact: Set<string> | null = null;
  let prefixes = 0;
  let suffixes = 0;
  for (const p of patterns) {
    if (p.kind === "any") any = true;
    else if (p.kind === "exact") {
      exact ??= new Set();
      exact.add(transform(p));
    } else if (p.kind === "prefix") prefixes++;
    else suffixes++;
  }
  const of = (kind: "prefix" | "suffix", count: number): readonly string[] => {
    if (count === 0) return NONE;
    const out = new Array<string>(count);
    let i = 0;
    for (const p of patterns) if (p.kind === kind) out[i++] = transform(p);
    return out;
  };
  return { any, exact, prefixes: of("prefix", prefixes), suffixes: of("suffix", suffixes) };
}

/** A list of patterns matched against one string: any pattern matching is a match. */
export class PatternSet {
  private readonly any: boolean;
  private readonly exact: ReadonlySet<string> | null;
  private readonly prefixes: readonly string[];
  private readonly suffixes: readonly string[];
  private readonly anyIncludesEmpty: boolean;

  constructor(patterns: readonly Pattern[], options: PatternOptions) {
    const t = options.transform;
    const sorted = sortPatterns(patterns, t && ((p) => t(p.kind === "any" ? "" : p.value)));
    this.any = sorted.any;
    this.exact = sorted.exact;
    this.prefixes = sorted.prefixes;
    this.suffixes = sorted.suffixes;
    this.anyIncludesEmpty = options.anyIncludesEmpty;
  }

  test(value: string): boolean {
    if (this.any && (this.anyIncludesEmpty || value !== "")) return true;
    if (this.exact?.has(value)) return true;
    for (const p of this.prefixes) if (value.startsWith(p)) return true;
    for (const s of this.suffixes) if (value.endsWith(s)) return true;
    return false;
  }
}
