// Property values and their wire encoding (Envoy common/wasm/context.cc serializeValue):
// strings and bytes raw, int64/uint64/double 8 bytes little-endian, bool 1 byte,
// maps and lists in the header-pairs format (lists with empty values).
import { encodePairs } from "./pairs.js";

export type PropertyValue =
  | string
  | boolean
  | bigint
  | Uint8Array
  | { readonly uint64: bigint }
  | { readonly double: number }
  | { readonly map: Readonly<Record<string, string>> }
  | { readonly list: readonly string[] };

/** Helpers for the typed values: `prop.int(443n)`, `prop.uint(7n)`, `prop.double(0.5)`. */
export const prop = {
  int: (v: bigint | number): PropertyValue => BigInt(v),
  uint: (v: bigint | number): PropertyValue => ({ uint64: BigInt(v) }),
  double: (v: number): PropertyValue => ({ double: v }),
  map: (v: Record<string, string>): PropertyValue => ({ map: v }),
  list: (v: string[]): PropertyValue => ({ list: v }),
};

const encoder = new TextEncoder();

export function encodeProperty(value: PropertyValue): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (typeof value === "boolean") return Uint8Array.of(value ? 1 : 0);
  if (typeof value === "bigint") {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigInt64(0, value, true);
    return out;
  }
  if (value instanceof Uint8Array) return value;
  if ("uint64" in value) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, value.uint64, true);
    return out;
  }
  if ("double" in value) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setFloat64(0, value.double, true);
    return out;
  }
  if ("map" in value) return encodePairs(Object.entries(value.map));
  return encodePairs(value.list.map((item) => [item, ""] as [string, string]));
}

/**
 * A property path as the host keys it: segments joined with NUL. A string key uses "." between
 * segments ("connection.mtls"); pass an array when a segment itself contains a dot
 * (["metadata", "filter_metadata", "envoy.lb"]).
 */
export function propertyKey(path: string | readonly string[]): string {
  return typeof path === "string" ? path.split(".").join("\0") : path.join("\0");
}

/** Envoy splits the guest's path on NUL and tolerates a trailing NUL. */
export function normalizeGuestPath(raw: string): string {
  return raw.endsWith("\0") ? raw.slice(0, -1) : raw;
}

export type PropertyMap = Readonly<Record<string, PropertyValue>>;

export function encodePropertyMap(map: PropertyMap | undefined): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(map ?? {})) out.set(propertyKey(k), encodeProperty(v));
  return out;
}
