// Header hygiene: a client must never be able to inject identity. Every inbound header (and request
// trailer) that starts with the configured prefix or trustgate's default one, or is listed in
// stripHeaders, is removed before the filter adds its own. Names match case-insensitively and with
// "_" as "-": Envoy forwards underscore names by default, and CGI-style stacks (WSGI, Rack, PHP) read
// `x_trustgate_peer_spiffe_id` as `x-trustgate-peer-spiffe-id`. Works on the raw pairs buffer the
// host copied in, so the common path allocates nothing.
import { MapType, Status } from "./abi";
import { Config } from "./config";
import { getHeaderPairs, HostBuffer, removeHeader, replaceHeader } from "./hostcalls";

const pairsBuffer = new HostBuffer();

/** A name byte in match form (see config.ts matchForm): ASCII lower case, "_" as "-". */
function fold(c: u32): u32 {
  if (c >= 0x41 && c <= 0x5a) return c + 0x20;
  return c == 0x5f ? 0x2d : c;
}

/** Whether [ptr, ptr+len) starts with `prefix` (in match form), ignoring case and "_" vs "-". */
function startsWithFolded(ptr: usize, len: usize, prefix: ArrayBuffer): bool {
  const n = <usize>prefix.byteLength;
  if (len < n) return false;
  const p = changetype<usize>(prefix);
  for (let i: usize = 0; i < n; i++) {
    if (fold(load<u8>(ptr + i)) != <u32>load<u8>(p + i)) return false;
  }
  return true;
}

function equalsFolded(ptr: usize, len: usize, name: ArrayBuffer): bool {
  return <usize>name.byteLength == len && startsWithFolded(ptr, len, name);
}

function mustStrip(cfg: Config, ptr: usize, len: usize): bool {
  const prefixes = cfg.stripPrefixes;
  for (let i = 0; i < prefixes.length; i++) {
    if (startsWithFolded(ptr, len, unchecked(prefixes[i]))) return true;
  }
  const extra = cfg.stripBytes;
  for (let i = 0; i < extra.length; i++) {
    if (equalsFolded(ptr, len, unchecked(extra[i]))) return true;
  }
  return false;
}

/** stripForgedHeaders results below zero: the caller fails closed on either. */
export const STRIP_UNREADABLE: i32 = -1;
export const STRIP_REFUSED: i32 = -2;

/**
 * Removes forged identity fields from `map` (request headers or request trailers). Returns how many
 * lines were removed, STRIP_UNREADABLE when the map could not be read or was malformed, or
 * STRIP_REFUSED when the host would not remove one (a forgery would reach the upstream).
 */
export function stripForgedHeaders(cfg: Config, map: MapType): i32 {
  if (getHeaderPairs(map, pairsBuffer) != Status.Ok) {
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
      if (removeHeader(map, data, keyLen) != Status.Ok) {
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

/** Sets a trusted request header; false when the host refused (the caller fails closed). */
export function setHeader(name: ArrayBuffer, valuePtr: usize, valueLen: usize): bool {
  return replaceHeader(MapType.RequestHeaders, name, valuePtr, valueLen) == Status.Ok;
}

export function setHeaderBytes(name: ArrayBuffer, value: ArrayBuffer): bool {
  return setHeader(name, changetype<usize>(value), value.byteLength);
}

/** A header value the filter may forward verbatim: no control characters (CR, LF, NUL, ...). */
export function safeHeaderValue(ptr: usize, len: usize): bool {
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(ptr + i);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return false;
  }
  return true;
}
