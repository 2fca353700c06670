// A strict JSON (RFC 8259) token reader over raw bytes: whitespace, punctuation, strings, numbers,
// literals. It never throws: a malformed token sets `error` (first one wins) and returns a failure
// value, so bad bytes from the network cannot trap the VM. Every token costs time and memory linear
// in its own length: the minimal runtime frees nothing until the callback returns, so a string is
// measured first and then decoded into one allocation, never built by concatenation.

const BAD_ESCAPE: i32 = -1;
const BAD_UNICODE: i32 = -2;
const NON_ASCII: i32 = -3;

export class JsonReader {
  error: string = "";
  pos: usize = 0;
  end: usize = 0;
  private base: usize = 0;
  // The last string scanned: raw bytes between the quotes, and whether they hold escapes.
  private spanStart: usize = 0;
  private spanEnd: usize = 0;
  private escaped: bool = false;
  // Result of escapeAt: bytes the escape sequence takes after the backslash.
  private escapeWidth: usize = 0;
  /** The last number read: its value when written as an integer (exact to 2^53), else NaN. */
  numValue: f64 = 0;
  /** True when the last number was written without fraction or exponent. */
  isInteger: bool = false;

  reset(ptr: usize, len: usize): void {
    this.error = "";
    this.base = ptr;
    this.pos = ptr;
    this.end = ptr + len;
  }

  /** Records the first error, with the byte offset it happened at; always returns false. */
  fail(message: string): bool {
    if (this.error.length == 0) this.error = message + " at byte " + (this.pos - this.base).toString();
    return false;
  }

  skipWs(): void {
    while (this.pos < this.end) {
      const c = load<u8>(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  /** The next byte after whitespace, or -1 at the end of input (nothing is consumed). */
  peek(): i32 {
    this.skipWs();
    return this.pos < this.end ? <i32>load<u8>(this.pos) : -1;
  }

  /** Consumes byte `c` if it comes next after whitespace. */
  eat(c: i32): bool {
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** Whether only whitespace is left. */
  atEnd(): bool {
    return this.peek() < 0;
  }

  literal(word: string): bool {
    const n = <usize>word.length;
    if (this.end - this.pos < n) return false;
    for (let i: usize = 0; i < n; i++) {
      if (<u32>load<u8>(this.pos + i) != <u32>word.charCodeAt(<i32>i)) return false;
    }
    this.pos += n;
    return true;
  }

  /** Reads the string token at pos as bytes (ASCII only, escapes decoded); null if malformed. */
  readStringBytes(): ArrayBuffer | null {
    const n = this.scanString();
    return n < 0 ? null : this.decodeSpan(n);
  }

  /** Reads the string token at pos as an AS string; null if malformed. */
  readString(): string | null {
    const n = this.scanString();
    if (n < 0) return null;
    // ASCII only, so the raw bytes are the string when there is nothing to unescape.
    if (!this.escaped) return String.UTF8.decodeUnsafe(this.spanStart, <usize>n);
    return String.UTF8.decode(this.decodeSpan(n));
  }

  /**
   * Reads a number token. Leaves its value in numValue (integers only; fractions and exponents give
   * NaN, since no caller accepts them) and isInteger. Returns false if malformed.
   */
  readNumber(): bool {
    const start = this.pos;
    let integer = true;
    if (this.pos < this.end && load<u8>(this.pos) == 0x2d) this.pos++;
    if (this.pos >= this.end) return this.fail("invalid number");
    let c = load<u8>(this.pos);
    if (c == 0x30) {
      this.pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (this.pos < this.end && isDigit(load<u8>(this.pos))) this.pos++;
    } else {
      return this.fail("invalid number");
    }
    if (this.pos < this.end && load<u8>(this.pos) == 0x2e) {
      integer = false;
      this.pos++;
      if (this.pos >= this.end || !isDigit(load<u8>(this.pos))) return this.fail("invalid number");
      while (this.pos < this.end && isDigit(load<u8>(this.pos))) this.pos++;
    }
    if (this.pos < this.end) {
      c = load<u8>(this.pos);
      if (c == 0x65 || c == 0x45) {
        integer = false;
        this.pos++;
        if (this.pos < this.end && (load<u8>(this.pos) == 0x2b || load<u8>(this.pos) == 0x2d)) this.pos++;
        if (this.pos >= this.end || !isDigit(load<u8>(this.pos))) return this.fail("invalid number");
        while (this.pos < this.end && isDigit(load<u8>(this.pos))) this.pos++;
      }
    }
    this.isInteger = integer;
    // f64 is exact to 2^53; larger integers only need to compare as "too large".
    this.numValue = integer ? integerValue(start, this.pos) : NaN;
    return true;
  }

  /** The last scanned string, `n` bytes once decoded, in one new buffer. */
  private decodeSpan(n: i32): ArrayBuffer {
    const out = new ArrayBuffer(n);
    const dst = changetype<usize>(out);
    if (!this.escaped) {
      memory.copy(dst, this.spanStart, <usize>n);
      return out;
    }
    let p = this.spanStart;
    let i: usize = 0;
    while (p < this.spanEnd) {
      const c = load<u8>(p);
      if (c == 0x5c) {
        store<u8>(dst + i, <u8>this.escapeAt(p + 1)); // already validated by scanString
        p += 1 + this.escapeWidth;
      } else {
        store<u8>(dst + i, c);
        p++;
      }
      i++;
    }
    return out;
  }

  /**
   * Validates the string token at pos (opening quote) and returns its decoded length, or -1.
   * Only ASCII is accepted, raw or escaped: every string this filter consumes (keys, names, SPIFFE
   * IDs, fingerprints) is ASCII by definition. Leaves pos after the closing quote.
   */
  private scanString(): i32 {
    let p = this.pos + 1; // opening quote
    let n: i32 = 0;
    this.escaped = false;
    while (true) {
      if (p >= this.end) {
        this.pos = p;
        this.fail("unterminated string");
        return -1;
      }
      const c = load<u8>(p);
      if (c == 0x22) break;
      if (c == 0x5c) {
        const e = this.escapeAt(p + 1);
        if (e < 0) {
          this.pos = p + 1;
          if (e == BAD_ESCAPE) this.fail("invalid escape");
          else this.fail(e == BAD_UNICODE ? "invalid \\u escape" : "non-ASCII character in string");
          return -1;
        }
        p += 1 + this.escapeWidth;
        this.escaped = true;
      } else if (c < 0x20 || c >= 0x7f) {
        this.pos = p;
        this.fail(c < 0x20 || c == 0x7f ? "control character in string" : "non-ASCII character in string");
        return -1;
      } else {
        p++;
      }
      n++;
    }
    this.spanStart = this.pos + 1;
    this.spanEnd = p;
    this.pos = p + 1;
    return n;
  }

  /**
   * Decodes the escape whose letter is at p (after the backslash): the character code, or
   * BAD_ESCAPE, BAD_UNICODE or NON_ASCII. Sets escapeWidth to the bytes it takes after the backslash.
   */
  private escapeAt(p: usize): i32 {
    this.escapeWidth = 1;
    if (p >= this.end) return BAD_ESCAPE;
    const e = load<u8>(p);
    if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
    if (e == 0x62) return 0x08;
    if (e == 0x66) return 0x0c;
    if (e == 0x6e) return 0x0a;
    if (e == 0x72) return 0x0d;
    if (e == 0x74) return 0x09;
    if (e != 0x75) return BAD_ESCAPE;
    this.escapeWidth = 5;
    if (this.end - p < 5) return BAD_UNICODE;
    let v: i32 = 0;
    for (let i: usize = 1; i <= 4; i++) {
      const d = hexValue(load<u8>(p + i));
      if (d < 0) return BAD_UNICODE;
      v = (v << 4) | d;
    }
    return v >= 0x80 ? NON_ASCII : v;
  }
}

function integerValue(start: usize, end: usize): f64 {
  let negative = false;
  let p = start;
  if (load<u8>(p) == 0x2d) {
    negative = true;
    p++;
  }
  let v: f64 = 0;
  while (p < end) v = v * 10 + <f64>(load<u8>(p++) - 0x30);
  return negative ? -v : v;
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}
