import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_YAML_LIMITS, parseYamlDocuments, parseYamlValue, type YamlLimits } from "./safe-yaml.js";

/** Nine levels of ten aliases each: 10^9 nodes once expanded, from a file of a few hundred bytes. */
function aliasBomb(levels = 9): string {
  let text = 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 1; i < levels; i++) {
    const refs = Array.from({ length: 10 }, () => `*a${i - 1}`).join(",");
    text += `a${i}: &a${i} [${refs}]\n`;
  }
  return text;
}

const limits = (overrides: Partial<YamlLimits>): YamlLimits => ({ ...DEFAULT_YAML_LIMITS, ...overrides });

describe("parseYamlDocuments", () => {
  it("refuses a nested alias bomb with the line of the alias that crosses the limit, without throwing", () => {
    // The default toJS limit of the yaml library throws a ReferenceError here; that exception used to escape.
    expect(() => parse(aliasBomb())).toThrow(/alias/i);
    const result = parseYamlDocuments(aliasBomb(), DEFAULT_YAML_LIMITS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.message).toMatch(/aliases expand to more than 100000 nodes \(yaml\.maxAliasExpansion\)/);
    expect(result.problems[0]!.line).toBeGreaterThan(1);
  });

  it("counts alias nodes against maxAliases", () => {
    const text = `base: &b {a: 1}\nlist: [${Array.from({ length: 11 }, () => "*b").join(", ")}]\n`;
    const result = parseYamlDocuments(text, limits({ maxAliases: 10 }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toEqual({ line: 2, message: "more than 10 aliases (yaml.maxAliases)" });
    expect(parseYamlDocuments(text, limits({ maxAliases: 11 })).ok).toBe(true);
  });

  it("refuses an alias to the node that contains it (a cycle) instead of building a circular value", () => {
    const result = parseYamlDocuments("a: &x\n  b: *x\n", DEFAULT_YAML_LIMITS);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems[0]).toEqual({ line: 2, message: "alias *x refers to a node that contains it" });
  });

  it("refuses nesting deeper than maxDepth, counting through aliases", () => {
    const deep = `${"[".repeat(70)}1${"]".repeat(70)}`;
    const result = parseYamlDocuments(deep, DEFAULT_YAML_LIMITS);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]!.message).toMatch(/nesting deeper than 64 levels \(yaml\.maxDepth\)/);
    const viaAlias = `a: &a [[[[1]]]]\nb: [[[[*a]]]]\n`;
    expect(parseYamlDocuments(viaAlias, limits({ maxDepth: 8 })).ok).toBe(false);
    expect(parseYamlDocuments(viaAlias, limits({ maxDepth: 10 })).ok).toBe(true);
  });

  it("turns absurd nesting that exhausts the parser's stack into a problem, not an exception", () => {
    const result = parseYamlDocuments(`${"[".repeat(200_000)}${"]".repeat(200_000)}`, limits({ maxFileBytes: 1e7 }));
    expect(result.ok).toBe(false);
  });

  it("refuses files over maxFileBytes and more documents than maxDocuments", () => {
    const big = parseYamlDocuments(`a: "${"x".repeat(100)}"\n`, limits({ maxFileBytes: 50 }));
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.problems[0]!.message).toMatch(/file is 106 bytes, more than the limit of 50/);
    const docs = parseYamlDocuments("a: 1\n---\nb: 2\n---\nc: 3\n", limits({ maxDocuments: 2 }));
    expect(docs.ok).toBe(false);
    if (!docs.ok) expect(docs.problems[0]).toEqual({ line: 4, message: "more than 2 documents (yaml.maxDocuments)" });
  });

  it("reports syntax errors with their line and keeps going to report every one", () => {
    const result = parseYamlDocuments("a: [1\n---\nb: 1\nb: 2\n", DEFAULT_YAML_LIMITS);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems.map((p) => p.line)).toEqual([2, 4]);
      expect(result.problems[1]!.message).toMatch(/^YAML syntax error: Map keys must be unique/);
    }
  });

  it("parses ordinary files with anchors, aliases and (when asked) merge keys", () => {
    const text = "base: &b {x: 1}\nuse: *b\n---\n\n---\nb: &c {x: 1}\nm:\n  <<: *c\n  y: 2\n";
    const result = parseYamlDocuments(text, DEFAULT_YAML_LIMITS, { merge: true });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.documents.map((d) => d.value)).toEqual([
        { base: { x: 1 }, use: { x: 1 } },
        null,
        { b: { x: 1 }, m: { x: 1, y: 2 } },
      ]);
    }
  });
});

describe("parseYamlValue", () => {
  it("reads one document, null for an empty file, and refuses several", () => {
    expect(parseYamlValue("a: 1\n", DEFAULT_YAML_LIMITS)).toEqual({ ok: true, value: { a: 1 } });
    expect(parseYamlValue("", DEFAULT_YAML_LIMITS)).toEqual({ ok: true, value: null });
    expect(parseYamlValue("a: 1\n---\nb: 2\n", DEFAULT_YAML_LIMITS)).toEqual({
      ok: false,
      problem: { line: 2, message: "expected one YAML document" },
    });
  });
});
