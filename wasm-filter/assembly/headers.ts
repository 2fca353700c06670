// Header hygiene: a client must never be able to inject identity. Every inbound header that starts
// with the configured prefix (case-insensitively, whatever the host's casing) or is listed in
// stripHeaders is removed before the filter adds its own. Works on the raw pairs buffer the host
// copied in, so the common path allocates nothing.
import { MapType, Status } from "./abi";
import { Config } from "./config";
import { getHeaderPairs, HostBuffer, removeHeader, replaceHeader } from "./hostcalls";

const pairsBuffer = new HostBuffer();

function lower(c: u32): u32 {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/** Whether [ptr, ptr+len) starts with `prefix` (already lower case), ignoring ASCII case. */
function startsWithIgnoreCase(ptr: usize, len: usize, prefix: ArrayBuffer): bool {
  const n = <usize>prefix.byteLength;
  if (len < n) return false;
  const p = changetype<usize>(prefix);
  for (let i: usize = 0; i < n; i++) {
    if (lower(load<u8>(ptr + i)) != <u32>load<u8>(p + i)) return false;
  }
  return true;
}

function equalsIgnoreCase(ptr: usize, len: usize, name: ArrayBuffer): bool {
  return <usize>name.byteLength == len && startsWithIgnoreCase(ptr, len, name);
}

function mustStrip(cfg: Config, ptr: usize, len: usize): bool {
  if (startsWithIgnoreCase(ptr, len, cfg.prefixBytes)) return true;
  const extra = cfg.stripBytes;
  for (let i = 0; i < extra.length; i++) {
    if (equalsIgnoreCase(ptr, len, unchecked(extra[i]))) return true;
  }
  return false;
}

/** stripForgedHeaders results below zero: the caller fails closed on either. */
export const STRIP_UNREADABLE: i32 = -1;
export const STRIP_REFUSED: i32 = -2;

/**
 * Removes forged identity headers from the request. Returns how many header lines were removed,
 * STRIP_UNREADABLE when the request headers could not be read or were malformed, or STRIP_REFUSED
 * when the host would not remove one (a forged header would reach the upstream and ext_authz).
 */
export function stripForgedHeaders(cfg: Config): i32 {
  if (getHeaderPairs(MapType.RequestHeaders, pairsBuffer) != Status.Ok) {
    pairsBuffer.release();
    return STRIP_UNREADABLE;
  }
  const base = pairsBuffer.ptr;
  const size = pairsBuffer.len;
  if (size < 4) {
    pairsBuffer.release();
    return 0; // an empty map is sent as nothing (or a single zero byte)
  }
  const count = <usize>load<u32>(base);
  // The size table must fit, and every key/value with its NUL must fit after it.
  if (count > (size - 4) / 8) {
    pairsBuffer.release();
    return STRIP_UNREADABLE;
  }
  let data = base + 4 + count * 8;
  const end = base + size;
  let removed: i32 = 0;
  for (let i: usize = 0; i < count; i++) {
    const keyLen = <usize>load<u32>(base + 4 + i * 8);
    const valueLen = <usize>load<u32>(base + 8 + i * 8);
    if (keyLen > end - data || valueLen + 2 > end - data - keyLen) {
      pairsBuffer.release();
      return STRIP_UNREADABLE;
    }
    if (mustStrip(cfg, data, keyLen)) {
      // Removes every line with this name (the host lower-cases the key). A refusal leaves the forgery in place.
      if (removeHeader(MapType.RequestHeaders, data, keyLen) != Status.Ok) {
        pairsBuffer.release();
        return STRIP_REFUSED;
      }
      removed++;
    }
    data += keyLen + valueLen + 2;
  }
  pairsBuffer.release();
  return removed;
}

export function setHeader(name: ArrayBuffer, valuePtr: usize, valueLen: usize): void {
  replaceHeader(MapType.RequestHeaders, name, valuePtr, valueLen);
}

export function setHeaderBytes(name: ArrayBuffer, value: ArrayBuffer): void {
  setHeader(name, changetype<usize>(value), value.byteLength);
}

/** A header value the filter may forward verbatim: no control characters (CR, LF, NUL, ...). */
export function safeHeaderValue(ptr: usize, len: usize): bool {
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(ptr + i);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return false;
  }
  return true;
}
