import { describe, expect, it } from "vitest";
import { PrincipalMatcher } from "./identity-matcher.js";
import { istioPattern, PatternSet, sortPatterns } from "./istio-pattern.js";

const patterns = (values: string[]) => values.map(istioPattern);

describe("sortPatterns", () => {
  it("sorts values by kind, keeping each list's order", () => {
    const sorted = sortPatterns(patterns(["a*", "*z", "exact", "b*", "*", "*y"]));
    expect(sorted.any).toBe(true);
    expect([...(sorted.exact ?? [])]).toEqual(["exact"]);
    expect(sorted.prefixes).toEqual(["a", "b"]);
    expect(sorted.suffixes).toEqual(["z", "y"]);
  });

  it("keeps no Set when there is no exact value, and shares one empty list", () => {
    const a = sortPatterns(patterns(["a*"]));
    const b = sortPatterns(patterns(["*z"]));
    expect(a.exact).toBeNull();
    expect(a.suffixes).toHaveLength(0);
    expect(a.suffixes).toBe(b.prefixes);
    expect(Object.isFrozen(a.suffixes)).toBe(true);
  });

  it("applies the transform to exact, prefix and suffix values", () => {
    const sorted = sortPatterns(patterns(["A", "B*", "*C"]), (p) => (p.kind === "any" ? "" : p.value.toLowerCase()));
    expect([...(sorted.exact ?? [])]).toEqual(["a"]);
    expect(sorted.prefixes).toEqual(["b"]);
    expect(sorted.suffixes).toEqual(["c"]);
  });
});

describe("PatternSet and PrincipalMatcher over sorted patterns", () => {
  it("match as before for every kind", () => {
    const set = new PatternSet(patterns(["GET", "/api/*", "*.json"]), { anyIncludesEmpty: false });
    expect(["GET", "/api/x", "a.json"].map((v) => set.test(v))).toEqual([true, true, true]);
    expect(["get", "/apix", "a.jsonx", ""].map((v) => set.test(v))).toEqual([false, false, false, false]);
    const lower = new PatternSet(patterns(["Example.COM"]), {
      anyIncludesEmpty: true,
      transform: (s) => s.toLowerCase(),
    });
    expect(lower.test("example.com")).toBe(true);
    const empty = new PatternSet([], { anyIncludesEmpty: true });
    expect(empty.test("")).toBe(false);
  });

  it("principals: exact and prefix over the whole URI, suffixes after the scheme", () => {
    const m = new PrincipalMatcher(patterns(["cluster.local/ns/a/sa/b", "cluster.local/ns/c/*", "*/sa/admin"]));
    expect(m.test("spiffe://cluster.local/ns/a/sa/b")).toBe(true);
    expect(m.test("spiffe://cluster.local/ns/c/sa/x")).toBe(true);
    expect(m.test("spiffe://other/ns/x/sa/admin")).toBe(true);
    expect(m.test("cluster.local/ns/a/sa/b")).toBe(false);
    expect(m.test("spiffe://cluster.local/ns/d/sa/x")).toBe(false);
    expect(m.test("")).toBe(false);
  });
});
