import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ownCopy, ownField, ownRecord } from "./own-record.js";

const hostile = () => JSON.parse('{"__proto__": "p", "constructor": "c", "toString": "t", "app": "a"}');

describe("ownRecord", () => {
  it("keeps every own key, __proto__ included, in a null-prototype object (z.record drops it)", () => {
    expect(Object.keys(z.record(z.string(), z.string()).parse(hostile()))).not.toContain("__proto__");
    const parsed = ownRecord(z.string()).parse(hostile());
    expect(Object.getPrototypeOf(parsed)).toBeNull();
    expect(Object.keys(parsed)).toEqual(["__proto__", "constructor", "toString", "app"]);
    expect(Object.getOwnPropertyDescriptor(parsed, "__proto__")?.value).toBe("p");
    expect(parsed.constructor).toBe("c");
    expect(ownRecord(z.string()).parse({}).toString).toBeUndefined();
  });

  it("reports bad values with their key, and refuses non-maps", () => {
    const bad = ownRecord(z.string()).safeParse({ a: "x", b: 3 });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.error.issues[0]!.path).toEqual(["b"]);
    expect(ownRecord(z.string()).safeParse(["x"]).success).toBe(false);
    expect(ownRecord(z.string()).safeParse("x").success).toBe(false);
  });
});

describe("ownCopy and ownField", () => {
  it("read only own properties", () => {
    expect(Object.keys(ownCopy(hostile()))).toEqual(["__proto__", "constructor", "toString", "app"]);
    expect(ownCopy(undefined)).toEqual({});
    expect(ownField({}, "toString")).toBeUndefined();
    expect(ownField({ reason: "r" }, "reason")).toBe("r");
    expect(ownField("text", "length")).toBeUndefined();
  });
});
