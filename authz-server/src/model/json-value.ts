/**
 * JSON values as trustgate holds verified JWT payloads: objects have no prototype, so a claim named `constructor`
 * or `__proto__` is just a key and never reaches Object.prototype.
 */

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | JsonObject;

export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at `key` of an object, only if it is the object's own key. */
export function ownValue(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
