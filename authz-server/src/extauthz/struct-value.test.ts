import { describe, expect, it } from "vitest";
import { BUILD_MAX_DEPTH, jsonToStruct, MAX_DEPTH, structToJson } from "./struct-value.js";

function nestedObject(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value as Record<string, unknown>;
}

function nestedList(levels: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe("jsonToStruct", () => {
  it("round-trips ordinary claims", () => {
    const claims = { sub: "alice", groups: ["a", "b"], n: 3, ok: true, nothing: null, nested: { x: { y: "z" } } };
    expect(structToJson(jsonToStruct(claims))).toEqual({ ok: true, value: claims });
  });

  it("builds JSON nested 20 000 levels deep without overflowing the stack, and the reader refuses it", () => {
    for (const deep of [nestedObject(20_000), { payload: nestedList(20_000) }]) {
      const struct = jsonToStruct(deep);
      expect(structToJson(struct)).toEqual({ ok: false, error: `metadata nested deeper than ${MAX_DEPTH} levels` });
    }
  });

  it("keeps everything up to protobuf's recursion limit, which is past what the reader accepts", () => {
    expect(BUILD_MAX_DEPTH).toBeGreaterThan(MAX_DEPTH);
    const within = nestedObject(MAX_DEPTH);
    expect(structToJson(jsonToStruct(within))).toEqual({ ok: true, value: within });
    expect(structToJson(jsonToStruct(nestedObject(MAX_DEPTH + 2))).ok).toBe(false);
  });
});
