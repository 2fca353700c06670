import { describe, expect, it } from "vitest";
import { z } from "zod";
import { objectKeysAt } from "./schema-keys.js";

describe("objectKeysAt", () => {
  const schema = z
    .object({
      cases: z.array(z.object({ name: z.string(), expect: z.object({ decision: z.string() }).strict() }).strict()),
      byName: z.record(z.string(), z.object({ x: z.number() })),
      either: z.union([z.string(), z.object({ p: z.string() })]),
      inner: z.object({ a: z.string().optional() }).prefault({}),
    })
    .strict();

  it("finds the keys through arrays, records, unions and wrappers", () => {
    expect(objectKeysAt(schema, [])).toEqual(["cases", "byName", "either", "inner"]);
    expect(objectKeysAt(schema, ["cases", 0])).toEqual(["name", "expect"]);
    expect(objectKeysAt(schema, ["cases", 3, "expect"])).toEqual(["decision"]);
    expect(objectKeysAt(schema, ["byName", "anything"])).toEqual(["x"]);
    expect(objectKeysAt(schema, ["either"])).toEqual(["p"]);
    expect(objectKeysAt(schema, ["inner"])).toEqual(["a"]);
    expect(objectKeysAt(schema, ["nope"])).toEqual([]);
  });
});
