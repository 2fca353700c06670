/**
 * `google.protobuf.Struct` (as protobufjs decodes it) → plain JSON values without prototypes, so user-chosen keys
 * (JWT claim names) can never reach Object.prototype. Nesting is bounded: Envoy converts a JWT payload of ordinary
 * depth; anything deeper than MAX_DEPTH is refused rather than walked.
 */
import type { JsonObject, JsonValue } from "../model/json-value.js";
import type { StructMessage, StructValueMessage } from "./check-request.js";

export const MAX_DEPTH = 32;

export type StructResult = { ok: true; value: JsonObject } | { ok: false; error: string };

class TooDeep extends Error {}

const KINDS = ["nullValue", "numberValue", "stringValue", "boolValue", "structValue", "listValue"] as const;

function kindOf(v: StructValueMessage): string | undefined {
  if (typeof v.kind === "string") return v.kind;
  return KINDS.find((k) => Object.hasOwn(v, k));
}

function jsonOf(v: StructValueMessage | null | undefined, depth: number): JsonValue {
  if (v === null || v === undefined) return null;
  switch (kindOf(v)) {
    case "numberValue":
      return typeof v.numberValue === "number" ? v.numberValue : null;
    case "stringValue":
      return typeof v.stringValue === "string" ? v.stringValue : null;
    case "boolValue":
      return v.boolValue === true;
    case "structValue":
      return objectOf(v.structValue, depth + 1);
    case "listValue": {
      if (depth + 1 > MAX_DEPTH) throw new TooDeep();
      return (v.listValue?.values ?? []).map((item) => jsonOf(item, depth + 1));
    }
    default:
      return null;
  }
}

function objectOf(s: StructMessage | null | undefined, depth: number): JsonObject {
  if (depth > MAX_DEPTH) throw new TooDeep();
  const out: Record<string, JsonValue> = Object.create(null);
  const fields = s?.fields;
  if (fields) for (const key of Object.keys(fields)) out[key] = jsonOf(fields[key], depth);
  return out;
}

export function structToJson(s: StructMessage | null | undefined): StructResult {
  try {
    return { ok: true, value: objectOf(s, 0) };
  } catch (err) {
    if (err instanceof TooDeep) return { ok: false, error: `metadata nested deeper than ${MAX_DEPTH} levels` };
    throw err;
  }
}

/**
 * How deep jsonToStruct builds: protobuf's own recursion limit, so no Envoy can send anything deeper. Beyond it a
 * value becomes null — never seen by a decision, since structToJson already refuses anything past MAX_DEPTH — so
 * that a description nested tens of thousands of levels deep (a JWT payload given to `explain`) is a malformed-request
 * deny, not a stack overflow.
 */
export const BUILD_MAX_DEPTH = 100;

/** The reverse, for building CheckRequests (tests, `check`, `explain`): JSON → Struct fields. */
export function jsonToStruct(value: Readonly<Record<string, unknown>>): StructMessage {
  return structOf(value, 0);
}

function structOf(value: Readonly<Record<string, unknown>>, depth: number): StructMessage {
  const fields: Record<string, StructValueMessage> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = jsonToValue(v, depth);
  return { fields };
}

function jsonToValue(v: unknown, depth: number): StructValueMessage {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (depth >= BUILD_MAX_DEPTH) return { nullValue: 0 };
  if (Array.isArray(v)) return { listValue: { values: v.map((item) => jsonToValue(item, depth + 1)) } };
  if (typeof v === "object" && v !== null) return { structValue: structOf(v as Record<string, unknown>, depth + 1) };
  return { nullValue: 0 };
}
