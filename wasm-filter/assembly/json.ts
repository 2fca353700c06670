// A small strict JSON (RFC 8259) parser for the plugin configuration and the revocation list.
// It never throws: malformed input yields null and a message in `error`, so bad bytes from
// the network or a typo in the configuration cannot trap the VM. Nesting depth is bounded
// because a wasm stack overflow would trap.

export const enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

const MAX_DEPTH = 16;

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  numValue: f64 = 0;
  /** True when the number was written without fraction or exponent. */
  isInteger: bool = false;
  strValue: string = "";
  items: Array<JsonValue> = [];
  keys: Array<string> = [];

  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }
}

export function kindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null:
      return "null";
    case JsonKind.Bool:
      return "a boolean";
    case JsonKind.Number:
      return "a number";
    case JsonKind.String:
      return "a string";
    case JsonKind.Array:
      return "an array";
    default:
      return "an object";
  }
}

export class JsonParser {
  error: string = "";
  private pos: usize = 0;
  private end: usize = 0;
  private depth: i32 = 0;
  private base: usize = 0;

  /** Parses exactly one JSON value spanning all of [ptr, ptr+len) (surrounding whitespace allowed). */
  parse(ptr: usize, len: usize): JsonValue | null {
    this.error = "";
    this.base = ptr;
    this.pos = ptr;
    this.end = ptr + len;
    this.depth = 0;
    const value = this.value();
    if (value === null) return null;
    this.skipWs();
    if (this.pos != this.end) return this.fail("unexpected data after the JSON value");
    return value;
  }

  private fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = message + " at byte " + (this.pos - this.base).toString();
    return null;
  }

  private skipWs(): void {
    while (this.pos < this.end) {
      const c = load<u8>(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  private literal(word: string): bool {
    const n = <usize>word.length;
    if (this.end - this.pos < n) return false;
    for (let i: usize = 0; i < n; i++) {
      if (<u32>load<u8>(this.pos + i) != <u32>word.charCodeAt(<i32>i)) return false;
    }
    this.pos += n;
    return true;
  }

  private value(): JsonValue | null {
    this.skipWs();
    if (this.pos >= this.end) return this.fail("unexpected end of input");
    const c = load<u8>(this.pos);
    const v = new JsonValue();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      v.kind = JsonKind.String;
      v.strValue = s;
      return v;
    }
    if (c == 0x74 && this.literal("true")) {
      v.kind = JsonKind.Bool;
      v.boolValue = true;
      return v;
    }
    if (c == 0x66 && this.literal("false")) {
      v.kind = JsonKind.Bool;
      return v;
    }
    if (c == 0x6e && this.literal("null")) return v;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  private object(): JsonValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++; // {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.skipWs();
    if (this.pos < this.end && load<u8>(this.pos) == 0x7d) {
      this.pos++;
      this.depth--;
      return v;
    }
    while (true) {
      this.skipWs();
      if (this.pos >= this.end || load<u8>(this.pos) != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key === null) return null;
      if (v.get(key) !== null) return this.fail('duplicate key "' + key + '"');
      this.skipWs();
      if (this.pos >= this.end || load<u8>(this.pos) != 0x3a) return this.fail("expected ':'");
      this.pos++;
      const item = this.value();
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipWs();
      if (this.pos >= this.end) return this.fail("unterminated object");
      const c = load<u8>(this.pos++);
      if (c == 0x7d) break;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or '}'");
      }
    }
    this.depth--;
    return v;
  }

  private array(): JsonValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++; // [
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.skipWs();
    if (this.pos < this.end && load<u8>(this.pos) == 0x5d) {
      this.pos++;
      this.depth--;
      return v;
    }
    while (true) {
      const item = this.value();
      if (item === null) return null;
      v.items.push(item);
      this.skipWs();
      if (this.pos >= this.end) return this.fail("unterminated array");
      const c = load<u8>(this.pos++);
      if (c == 0x5d) break;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or ']'");
      }
    }
    this.depth--;
    return v;
  }

  private number(): JsonValue | null {
    const start = this.pos;
    let integer = true;
    if (load<u8>(this.pos) == 0x2d) this.pos++;
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
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.isInteger = integer;
    // Only integers are ever accepted by the callers, so only they get a value (f64 is exact to 2^53;
    // larger ones only need to compare as "too large"). Fractions keep NaN.
    v.numValue = integer ? integerValue(start, this.pos) : NaN;
    return v;
  }

  /**
   * Reads a string token (the opening quote is at pos). Only ASCII is accepted, raw or escaped:
   * every string this filter consumes (keys, names, SPIFFE IDs, fingerprints) is ASCII by definition,
   * so anything else is rejected here instead of being decoded.
   */
  private string(): string | null {
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.end) {
        this.fail("unterminated string");
        return null;
      }
      const c = load<u8>(this.pos);
      if (c == 0x22 || c == 0x5c) {
        if (this.pos > runStart) out += String.UTF8.decodeUnsafe(runStart, this.pos - runStart);
        this.pos++;
        if (c == 0x22) return out;
        const e = this.escape();
        if (e < 0) return null;
        out += String.fromCharCode(e);
        runStart = this.pos;
        continue;
      }
      if (c < 0x20 || c >= 0x7f) {
        this.fail(c < 0x20 || c == 0x7f ? "control character in string" : "non-ASCII character in string");
        return null;
      }
      this.pos++;
    }
    return null;
  }

  /** Decodes the escape after a backslash; returns the character code or -1. */
  private escape(): i32 {
    if (this.pos >= this.end) {
      this.fail("unterminated escape");
      return -1;
    }
    const e = load<u8>(this.pos++);
    if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
    if (e == 0x62) return 0x08;
    if (e == 0x66) return 0x0c;
    if (e == 0x6e) return 0x0a;
    if (e == 0x72) return 0x0d;
    if (e == 0x74) return 0x09;
    if (e == 0x75) {
      const cp = this.hex4();
      if (cp < 0) return -1;
      if (cp >= 0x80) {
        this.fail("non-ASCII character in string");
        return -1;
      }
      return cp;
    }
    this.pos--;
    this.fail("invalid escape");
    return -1;
  }

  private hex4(): i32 {
    if (this.end - this.pos < 4) {
      this.fail("invalid \\u escape");
      return -1;
    }
    let v: i32 = 0;
    for (let i = 0; i < 4; i++) {
      const d = hexValue(load<u8>(this.pos + i));
      if (d < 0) {
        this.fail("invalid \\u escape");
        return -1;
      }
      v = (v << 4) | d;
    }
    this.pos += 4;
    return v;
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

export function hexValue(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}
