/**
 * Istio string matching, compiled once: `abc` exact, `abc*` prefix, `*abc` suffix, `*` presence (any non-empty
 * value). A list of values matches when any of them does. A `*` anywhere else is refused at load time
 * (see `parsePattern`), so a value can never mean something other than what it looks like.
 */

export interface Matcher {
  matches(value: string): boolean;
}

export type Pattern =
  | { kind: "exact"; value: string }
  | { kind: "prefix"; value: string }
  | { kind: "suffix"; value: string }
  | { kind: "presence" };

export type PatternResult = { ok: true; pattern: Pattern } | { ok: false; error: string };

export function parsePattern(raw: string): PatternResult {
  if (raw === "*") return { ok: true, pattern: { kind: "presence" } };
  const first = raw.indexOf("*");
  if (first === -1) return { ok: true, pattern: { kind: "exact", value: raw } };
  if (first !== raw.lastIndexOf("*")) return { ok: false, error: "a value may contain at most one '*'" };
  if (first === raw.length - 1) return { ok: true, pattern: { kind: "prefix", value: raw.slice(0, -1) } };
  if (first === 0) return { ok: true, pattern: { kind: "suffix", value: raw.slice(1) } };
  return { ok: false, error: "'*' is only allowed at the start or the end of a value" };
}

export class StringMatcher implements Matcher {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly suffixes: string[] = [];
  private presence = false;

  constructor(patterns: readonly Pattern[], transform: (s: string) => string = (s) => s) {
    for (const p of patterns) {
      if (p.kind === "presence") this.presence = true;
      else if (p.kind === "exact") this.exact.add(transform(p.value));
      else if (p.kind === "prefix") this.prefixes.push(transform(p.value));
      else this.suffixes.push(transform(p.value));
    }
  }

  matches(value: string): boolean {
    if (this.presence && value !== "") return true;
    if (this.exact.has(value)) return true;
    for (const p of this.prefixes) if (value.startsWith(p)) return true;
    for (const s of this.suffixes) if (value.endsWith(s)) return true;
    return false;
  }
}
