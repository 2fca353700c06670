/**
 * The metric names a PromQL expression reads, found with a small tokenizer rather than a regular expression over
 * the text: identifiers count unless they are function or aggregation names (followed by "("), keywords, label
 * names inside {...}, durations inside [...], or the label lists after by/without/on/ignoring/group_left/
 * group_right. A `{__name__="…"}` matcher names a metric too. Pure.
 */

type Token = { readonly kind: "ident" | "string" | "number" | "punct"; readonly text: string };

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"]);
// Aggregation operators can be followed by `by (...)` before their parenthesis, so "followed by (" misses them.
const AGGREGATIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
const LABEL_LISTS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const IDENT_START = /[a-zA-Z_:]/;
const IDENT_PART = /[a-zA-Z0-9_:]/;

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === "\\" && c !== "`" ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
      tokens.push({ kind: "string", text: expr.slice(i + 1, j) });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(expr[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < expr.length && /[a-zA-Z0-9_.]/.test(expr[j]!)) j++;
      tokens.push({ kind: "number", text: expr.slice(i, j) });
      i = j;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < expr.length && IDENT_PART.test(expr[j]!)) j++;
      tokens.push({ kind: "ident", text: expr.slice(i, j) });
      i = j;
    } else {
      tokens.push({ kind: "punct", text: c });
      i++;
    }
  }
  return tokens;
}

/** Sorted, distinct metric names read by `expr`. */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names = new Set<string>();
  let braces = 0;
  let brackets = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === "punct") {
      if (t.text === "{") braces++;
      else if (t.text === "}") braces--;
      else if (t.text === "[") brackets++;
      else if (t.text === "]") brackets--;
      continue;
    }
    if (t.kind !== "ident" || brackets > 0) continue;
    const next = tokens[i + 1];
    if (braces > 0) {
      // Inside a selector only `__name__` = "metric" names a metric; other identifiers are label names.
      const value = tokens[i + 2];
      if (t.text === "__name__" && next?.text === "=" && value?.kind === "string") names.add(value.text);
      continue;
    }
    if (LABEL_LISTS.has(t.text)) {
      if (next?.text === "(") {
        let depth = 0;
        let j = i + 1;
        for (; j < tokens.length; j++) {
          if (tokens[j]!.text === "(") depth++;
          else if (tokens[j]!.text === ")" && --depth === 0) break;
        }
        i = j;
      }
      continue;
    }
    const lower = t.text.toLowerCase();
    if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower)) continue;
    if (next?.kind === "punct" && next.text === "(") continue; // a function or aggregation
    names.add(t.text);
  }
  return [...names].sort();
}
