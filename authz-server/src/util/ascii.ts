/**
 * ASCII-only case folding, as Envoy's `ignore_case` does (`absl::EqualsIgnoreCase`). JavaScript's toLowerCase also
 * folds non-ASCII letters (the Kelvin sign K becomes k), which would make values equal that Envoy keeps apart.
 */

/** Lower-cases A-Z only; returns the input itself when it has no upper-case ASCII letter. */
export function asciiLowerCase(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : s[i];
  }
  return out;
}

/** Upper-cases a-z only; returns the input itself when it has no lower-case ASCII letter. */
export function asciiUpperCase(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : s[i];
  }
  return out;
}
