/**
 * Request path normalisation. Envoy sends `:path` as the raw request target: query string included, nothing decoded.
 * Policies match the path alone, so this module turns the raw target into the one form policies see, and refuses
 * forms that different servers interpret differently (a DENY on `/admin/*` must not be sidestepped).
 *
 * The rule, in order:
 *  1. The query (`?…`) and fragment (`#…`) are cut off.
 *  2. The path must be origin-form (start with `/`), or exactly `*`.
 *  3. Refused: control characters, a raw backslash, malformed percent-encoding, percent-encoded `/` or `\`
 *     (`%2F`, `%5C`), and any `.` or `..` segment (also when written as `%2E`).
 *  4. Percent-encoded unreserved characters (letters, digits, `-._~`) are decoded (`/%61dmin` → `/admin`); other
 *     escapes are kept, with upper-case hex digits.
 *  5. Runs of slashes are merged (`/a//b` → `/a/b`), as Envoy's `merge_slashes` does.
 */

export type PathResult = { ok: true; path: string } | { ok: false; error: string };

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

const HEX = "0123456789ABCDEF";

/** Returns the end of the path part of a request target (before `?` or `#`). */
export function pathEnd(target: string): number {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return i;
  }
  return target.length;
}

export function normalizeRequestPath(target: string): PathResult {
  const end = pathEnd(target);
  if (end === 0) return { ok: false, error: "path is empty" };
  if (end === 1 && target.charCodeAt(0) === 0x2a) return { ok: true, path: "*" };
  if (target.charCodeAt(0) !== 0x2f) return { ok: false, error: "path must start with '/'" };

  // Fast pass: most paths need no rewriting; only then is a new string built.
  let needsRewrite = false;
  let prev = 0;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return { ok: false, error: "path contains a control character" };
    if (c === 0x5c) return { ok: false, error: "path contains a backslash" };
    if (c === 0x25 || (c === 0x2f && prev === 0x2f) || (c === 0x2e && prev === 0x2f)) needsRewrite = true;
    prev = c;
  }
  if (!needsRewrite) return { ok: true, path: end === target.length ? target : target.slice(0, end) };

  // Slow pass: decode, then split into segments.
  let decoded = "";
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c !== 0x25) {
      decoded += target[i];
      continue;
    }
    const hi = i + 1 < end ? hexValue(target.charCodeAt(i + 1)) : -1;
    const lo = i + 2 < end ? hexValue(target.charCodeAt(i + 2)) : -1;
    if (hi < 0 || lo < 0) return { ok: false, error: "path contains malformed percent-encoding" };
    const byte = hi * 16 + lo;
    if (byte === 0x2f) return { ok: false, error: "path contains an encoded slash (%2F)" };
    if (byte === 0x5c) return { ok: false, error: "path contains an encoded backslash (%5C)" };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, error: "path contains an encoded control character" };
    decoded += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }

  const segments = decoded.split("/");
  let out = "";
  for (let s = 1; s < segments.length; s++) {
    const segment = segments[s]!;
    if (segment === "." || segment === "..") return { ok: false, error: "path contains a '.' or '..' segment" };
    if (segment === "" && s !== segments.length - 1) continue; // merged slash
    out += `/${segment}`;
  }
  return { ok: true, path: out === "" ? "/" : out };
}
