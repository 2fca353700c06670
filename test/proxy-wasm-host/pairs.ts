// Header-map pair serialisation (spec "Serialization"; cpp-host pairs_util.cc):
//   u32 count, count × (u32 keyLength, u32 valueLength), then key\0value\0 for each pair; little-endian.
export type HeaderPairs = Array<[string, string]>;

const decoder = new TextDecoder();

export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Uint8Array {
  // Sizes first, then one zero-filled buffer (the zeros are the NUL terminators).
  let size = 4 + 8 * pairs.length;
  for (const [k, v] of pairs) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let offset = 4 + 8 * pairs.length;
  pairs.forEach(([k, v], i) => {
    const keyLength = out.write(k, offset, "utf8");
    offset += keyLength + 1;
    const valueLength = out.write(v, offset, "utf8");
    offset += valueLength + 1;
    out.writeUInt32LE(keyLength, 4 + 8 * i);
    out.writeUInt32LE(valueLength, 8 + 8 * i);
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
