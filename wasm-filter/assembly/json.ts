// A small strict JSON (RFC 8259) tree for the plugin configuration, built on JsonReader. It never
// throws: malformed input yields null and a message in `error`. Its bounds keep the work linear in
// the input and the stack finite: nesting depth (a wasm stack overflow would trap) and keys per
// object (the duplicate-key check compares a key with every earlier one). The revocation list does
// not use this tree; revocation.ts reads its fixed shape directly.
import { JsonReader } from "./json-reader";

export const enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

const MAX_DEPTH = 16;
/** The configuration's largest object has 7 keys. */
export const MAX_OBJECT_KEYS = 64;

// Scalars share these instead of allocating two arrays each; only arrays and objects get their own.
const NO_ITEMS = new Array<JsonValue>(0);
const NO_KEYS = new Array<string>(0);

export class JsonValue {
  boolValue: bool = false;
  numValue: f64 = 0;
  /** True when the number was written without fraction or exponent. */
  isInteger: bool = false;
  strValue: string = "";
  /** Array elements, or object values in key order (shared and empty for scalars: never push). */
  items: Array<JsonValue>;
  keys: Array<string>;

  constructor(public kind: JsonKind) {
    const container = kind == JsonKind.Array || kind == JsonKind.Object;
    this.items = container ? new Array<JsonValue>() : NO_ITEMS;
    this.keys = kind == JsonKind.Object ? new Array<string>() : NO_KEYS;
  }

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
  private r: JsonReader = new JsonReader();
  private depth: i32 = 0;

  /** Parses exactly one JSON value spanning all of [ptr, ptr+len) (surrounding whitespace allowed). */
  parse(ptr: usize, len: usize): JsonValue | null {
    this.r.reset(ptr, len);
    this.depth = 0;
    const value = this.value();
    if (value !== null && !this.r.atEnd()) this.r.fail("unexpected data after the JSON value");
    this.error = this.r.error;
    return this.error.length == 0 ? value : null;
  }

  private fail(message: string): JsonValue | null {
    this.r.fail(message);
    return null;
  }

  private value(): JsonValue | null {
    const r = this.r;
    const c = r.peek();
    if (c < 0) return this.fail("unexpected end of input");
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      const s = r.readString();
      if (s === null) return null;
      const v = new JsonValue(JsonKind.String);
      v.strValue = s;
      return v;
    }
    if (c == 0x74 && r.literal("true")) {
      const v = new JsonValue(JsonKind.Bool);
      v.boolValue = true;
      return v;
    }
    if (c == 0x66 && r.literal("false")) return new JsonValue(JsonKind.Bool);
    if (c == 0x6e && r.literal("null")) return new JsonValue(JsonKind.Null);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      if (!r.readNumber()) return null;
      const v = new JsonValue(JsonKind.Number);
      v.isInteger = r.isInteger;
      v.numValue = r.numValue;
      return v;
    }
    return this.fail("unexpected character");
  }

  private object(): JsonValue | null {
    const r = this.r;
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    r.pos++; // {
    const v = new JsonValue(JsonKind.Object);
    if (!r.eat(0x7d)) {
      do {
        if (r.peek() != 0x22) return this.fail("expected a string key");
        if (v.keys.length >= MAX_OBJECT_KEYS) return this.fail("more than " + MAX_OBJECT_KEYS.toString() + " keys");
        const key = r.readString();
        if (key === null) return null;
        if (v.get(key) !== null) return this.fail('duplicate key "' + key + '"');
        if (!r.eat(0x3a)) return this.fail("expected ':'");
        const item = this.value();
        if (item === null) return null;
        v.keys.push(key);
        v.items.push(item);
      } while (r.eat(0x2c));
      if (!r.eat(0x7d)) return this.fail(r.atEnd() ? "unterminated object" : "expected ',' or '}'");
    }
    this.depth--;
    return v;
  }

  private array(): JsonValue | null {
    const r = this.r;
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    r.pos++; // [
    const v = new JsonValue(JsonKind.Array);
    if (!r.eat(0x5d)) {
      do {
        const item = this.value();
        if (item === null) return null;
        v.items.push(item);
      } while (r.eat(0x2c));
      if (!r.eat(0x5d)) return this.fail(r.atEnd() ? "unterminated array" : "expected ',' or ']'");
    }
    this.depth--;
    return v;
  }
}
