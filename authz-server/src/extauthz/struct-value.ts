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

/** The reverse, for building CheckRequests (tests, `check`, `explain`): JSON → Struct fields. */
export function jsonToStruct(value: Readonly<Record<string, unknown>>): StructMessage {
  const fields: Record<string, StructValueMessage> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): StructValueMessage {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === "object" && v !== null) return { structValue: jsonToStruct(v as Record<string, unknown>) };
  return { nullValue: 0 };
}
