/**
 * The request headers of a CheckRequest as one lower-cased map, whichever way Envoy sent them, and the removal of
 * identity headers a client forged.
 */
import { spoofedIdentityHeaders } from "../identity/caller-identity.js";
import type { HttpRequestMessage } from "./check-request.js";

/** `encode_raw_headers: true` sends `header_map` instead of `headers`; fold it into the same lower-cased map. */
export function headersOf(http: HttpRequestMessage): Record<string, string> {
  const headers = http.headers;
  if (headers) for (const _ in headers) return headers; // any header: no array of keys just to count them
  const list = http.headerMap?.headers;
  const map: Record<string, string> = Object.create(null);
  if (!list) return map;
  for (const entry of list) {
    const key = (entry.key ?? "").toLowerCase();
    if (key === "") continue;
    const value =
      entry.rawValue && entry.rawValue.length > 0 ? Buffer.from(entry.rawValue).toString("utf8") : (entry.value ?? "");
    map[key] = Object.hasOwn(map, key) ? `${map[key]},${value}` : value;
  }
  return map;
}

function withoutHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const copy: Record<string, string> = Object.create(null);
  for (const name in headers) if (!names.includes(name)) copy[name] = headers[name]!;
  return copy;
}

export interface TrustedHeaders {
  readonly headers: Record<string, string>;
  /** Identity headers that no trusted filter set (null when none): ignored here, removed upstream by Envoy. */
  readonly spoofed: string[] | null;
}

/**
 * The headers policies may read. Unless the sidecars run trustgate's wasm filter, `x-trustgate-peer-*` headers are a
 * client's claim, not a fact: they are dropped and reported.
 */
export function trustedHeaders(headers: Record<string, string>, trustFilterHeaders: boolean): TrustedHeaders {
  if (trustFilterHeaders) return { headers, spoofed: null };
  const spoofed = spoofedIdentityHeaders(headers);
  return { headers: spoofed === null ? headers : withoutHeaders(headers, spoofed), spoofed };
}
