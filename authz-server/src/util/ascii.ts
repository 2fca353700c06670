/**
 * ASCII-only case folding, as Envoy's `ignore_case` does (`absl::EqualsIgnoreCase`). JavaScript's toLowerCase also
 * folds non-ASCII letters (the Kelvin sign K becomes k), which would make values equal that Envoy keeps apart.
 */

/** Shifts the characters in [first, last] by `delta`; returns the input itself when it has none of them. */
function shiftAsciiRange(s: string, first: number, last: number, delta: number): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= first && c <= last) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= first && c <= last ? String.fromCharCode(c + delta) : s[i];
  }
  return out;
}

/** Lower-cases A-Z only; returns the input itself when it has no upper-case ASCII letter. */
export function asciiLowerCase(s: string): string {
  return shiftAsciiRange(s, 0x41, 0x5a, 0x20);
}

/** Upper-cases a-z only; returns the input itself when it has no lower-case ASCII letter. */
export function asciiUpperCase(s: string): string {
  return shiftAsciiRange(s, 0x61, 0x7a, -0x20);
}
