// Header-map pair serialisation (spec "Serialization"; cpp-host pairs_util.cc):
//   u32 count, count × (u32 keyLength, u32 valueLength), then key\0value\0 for each pair; little-endian.
export type HeaderPairs = Array<[string, string]>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const encoded = pairs.map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const);
  let size = 4 + 8 * encoded.length;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, encoded.length, true);
  let offset = 4 + 8 * encoded.length;
  encoded.forEach(([k, v], i) => {
    view.setUint32(4 + 8 * i, k.length, true);
    view.setUint32(8 + 8 * i, v.length, true);
    out.set(k, offset);
    offset += k.length + 1; // NUL already 0
    out.set(v, offset);
    offset += v.length + 1;
  });
  return out;
}

/**
 * Decodes pairs the way cpp-host's toPairs does: a buffer shorter than 4 bytes, or one whose size
 * table does not fit, is an empty list (not an error). Bytes past the end are never read.
 */
export function decodePairs(bytes: Uint8Array): HeaderPairs {
  if (bytes.length < 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (4 + count * 8 > bytes.length) return [];
  const out: HeaderPairs = [];
  let offset = 4 + count * 8;
  for (let i = 0; i < count; i++) {
    const keyLength = view.getUint32(4 + 8 * i, true);
    const valueLength = view.getUint32(8 + 8 * i, true);
    const keyEnd = Math.min(offset + keyLength, bytes.length);
    const key = decoder.decode(bytes.subarray(offset, keyEnd));
    offset += keyLength + 1;
    const valueEnd = Math.min(offset + valueLength, bytes.length);
    const value =
      offset <= bytes.length ? decoder.decode(bytes.subarray(Math.min(offset, bytes.length), valueEnd)) : "";
    offset += valueLength + 1;
    out.push([key, value]);
  }
  return out;
}
