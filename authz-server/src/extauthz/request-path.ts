/**
 * The request path policies match, and the path forms trustgate refuses. Envoy sends `:path` as the request target
 * after its own normalisation (Istio's default resolves `.`/`..` and decodes unreserved escapes, but keeps `//`, `;`
 * and `%2F` as they are): query included, nothing else done. Istio's path matchers compare that path with the query
 * (`?…`) and fragment (`#…`) cut off, and so does trustgate — no merging, decoding or case folding of its own.
 *
 * Some forms are refused outright (403, malformed request), because servers disagree about what they name and a
 * DENY on `/admin/*` must not be sidestepped through one of them:
 *  - a path that does not start with `/` (except exactly `*`);
 *  - control characters, a raw backslash, malformed percent-encoding, percent-encoded `/`, `\` or control characters;
 *  - any segment that is `.` or `..` — also when written `%2E`, and also after cutting the segment at its first `;`
 *    or `%3B` (Tomcat, Jetty and Spring strip `;parameters` from every segment, so `/api/..;/admin` is `/admin` to
 *    them, and a server that decodes first reads `/api/..%3B/admin` the same way).
 * Refusing only ever denies; the readings that close other path traps in DENY rules are in policy/path-readings.ts.
 */

export type PathResult = { ok: true; path: string } | { ok: false; error: string };

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Returns the end of the path part of a request target (before `?` or `#`). */
export function pathEnd(target: string): number {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return i;
  }
  return target.length;
}

/**
 * True when the segment `target[start, end)` reads as `.` or `..` once percent-encoded dots are decoded and the
 * segment is cut at its first `;` (raw or percent-encoded).
 */
function isDotSegment(target: string, start: number, end: number): boolean {
  let dots = 0;
  let i = start;
  while (i < end) {
    const c = target.charCodeAt(i);
    if (c === 0x3b) break; // ';' ends the part servers use
    // So does %3B for servers that decode the path before cutting parameters (`/api/..%3B/admin` is `/admin` there).
    if (c === 0x25 && i + 2 < end && target.charCodeAt(i + 1) === 0x33 && (target.charCodeAt(i + 2) | 0x20) === 0x62) {
      break;
    }
    if (c === 0x2e) i += 1;
    else if (
      c === 0x25 &&
      i + 2 < end &&
      target.charCodeAt(i + 1) === 0x32 &&
      (target.charCodeAt(i + 2) | 0x20) === 0x65
    ) {
      i += 3; // %2E or %2e
    } else return false;
    dots++;
    if (dots > 2) return false;
  }
  return dots === 1 || dots === 2;
}

export function requestPath(target: string): PathResult {
  const end = pathEnd(target);
  if (end === 0) return { ok: false, error: "path is empty" };
  if (end === 1 && target.charCodeAt(0) === 0x2a) return { ok: true, path: "*" };
  if (target.charCodeAt(0) !== 0x2f) return { ok: false, error: "path must start with '/'" };

  let segmentStart = 1;
  let maybeDot = false;
  for (let i = 0; i <= end; i++) {
    if (i === end || target.charCodeAt(i) === 0x2f) {
      if (i > 0 && maybeDot && isDotSegment(target, segmentStart, i)) {
        return {
          ok: false,
          error: "path contains a '.' or '..' segment (after decoding %2E and cutting ';' parameters)",
        };
      }
      segmentStart = i + 1;
      maybeDot = false;
      continue;
    }
    const c = target.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return { ok: false, error: "path contains a control character" };
    if (c === 0x5c) return { ok: false, error: "path contains a backslash" };
    if (i === segmentStart && (c === 0x2e || c === 0x25)) maybeDot = true;
    if (c !== 0x25) continue;
    const hi = i + 2 < end ? hexValue(target.charCodeAt(i + 1)) : -1;
    const lo = i + 2 < end ? hexValue(target.charCodeAt(i + 2)) : -1;
    if (hi < 0 || lo < 0) return { ok: false, error: "path contains malformed percent-encoding" };
    const byte = hi * 16 + lo;
    if (byte === 0x2f) return { ok: false, error: "path contains an encoded slash (%2F)" };
    if (byte === 0x5c) return { ok: false, error: "path contains an encoded backslash (%5C)" };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, error: "path contains an encoded control character" };
  }
  return { ok: true, path: end === target.length ? target : target.slice(0, end) };
}
