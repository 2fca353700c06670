/**
 * CheckResponse → protobuf bytes, written straight into one Buffer: a first pass measures every message, a second
 * writes. protobufjs's encoder builds a linked list of write operations with several objects per field, and a state
 * object per nested message; for trustgate's response (headers, a metadata Struct of six to nine fields) that was
 * most of the garbage one Check made. This writer covers exactly the fields of CheckResponseMessage, in field-number
 * order as protobufjs writes them; the tests compare its bytes with protobufjs's.
 */
import type { CheckResponseMessage, HeaderOption, StructValue } from "./check-response.js";

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

/** Strings this short are measured and copied in JavaScript when they are ASCII (nearly all here are). */
const SHORT = 128;

/** UTF-8 length, without a call into the runtime for a short ASCII string. */
function utf8Length(value: string): number {
  if (value.length > SHORT) return Buffer.byteLength(value);
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return Buffer.byteLength(value);
  return value.length;
}

function varintSize(value: number): number {
  if (value < 0) return 10; // negative int32: sign-extended to 64 bits
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/**
 * Lengths measured in the first pass (each nested message's and each string's), read back in the same order by the
 * second. No closures and no per-field objects: one array per response.
 */
class Sizes {
  readonly list: number[] = [];
  private next = 0;

  /** A string field's size; keeps its byte length. */
  string(value: string): number {
    const n = utf8Length(value);
    this.list.push(n);
    return 1 + varintSize(n) + n;
  }

  /** Starts measuring a nested message: returns the slot its length goes in. */
  open(): number {
    this.list.push(0);
    return this.list.length - 1;
  }

  /** Ends it: records its length, returns the size of the field that holds it. */
  close(slot: number, length: number): number {
    this.list[slot] = length;
    return 1 + varintSize(length) + length;
  }

  take(): number {
    return this.list[this.next++]!;
  }
}

function varintField(value: number): number {
  return 1 + varintSize(value);
}

function measureHeader(s: Sizes, option: HeaderOption): number {
  // HeaderValueOption { header = 1 { key = 1, value = 2 }, append = 2 (BoolValue { value = 1 }) }
  const header = s.open();
  let n = s.close(header, s.string(option.header.key) + s.string(option.header.value));
  n += s.close(s.open(), varintField(option.append.value ? 1 : 0));
  return n;
}

function measureValue(s: Sizes, v: StructValue): number {
  // Value { number_value = 2 (double), string_value = 3, bool_value = 4 }
  let n = 0;
  if (v.numberValue !== undefined) n += 9;
  if (v.stringValue !== undefined) n += s.string(v.stringValue);
  if (v.boolValue !== undefined) n += 2;
  return n;
}

function measure(s: Sizes, r: CheckResponseMessage): number {
  const status = s.open();
  let n = s.close(
    status,
    varintField(r.status.code) + (r.status.message === undefined ? 0 : s.string(r.status.message)),
  );
  const denied = r.deniedResponse;
  if (denied !== undefined) {
    const slot = s.open();
    let m = s.close(s.open(), varintField(denied.status.code));
    for (const h of denied.headers) {
      const hs = s.open();
      m += s.close(hs, measureHeader(s, h));
    }
    m += s.string(denied.body);
    n += s.close(slot, m);
  }
  const ok = r.okResponse;
  if (ok !== undefined) {
    const slot = s.open();
    let m = 0;
    for (const h of ok.headers) {
      const hs = s.open();
      m += s.close(hs, measureHeader(s, h));
    }
    for (const name of ok.headersToRemove ?? []) m += s.string(name);
    n += s.close(slot, m);
  }
  const metadata = r.dynamicMetadata;
  if (metadata !== undefined) {
    const slot = s.open();
    let m = 0;
    for (const key in metadata.fields) {
      // map entry { key = 1, value = 2 }
      const entry = s.open();
      const k = s.string(key);
      const value = s.open();
      m += s.close(entry, k + s.close(value, measureValue(s, metadata.fields[key]!)));
    }
    n += s.close(slot, m);
  }
  return n;
}

class Writer {
  pos = 0;

  constructor(
    readonly buf: Buffer,
    readonly sizes: Sizes,
  ) {}

  varint(value: number): void {
    if (value < 0) {
      // Negative int32: ten bytes, two's complement over 64 bits.
      let lo = value >>> 0;
      let hi = -1 >>> 0;
      for (let i = 0; i < 9; i++) {
        this.buf[this.pos++] = (lo & 0x7f) | 0x80;
        lo = ((lo >>> 7) | (hi << 25)) >>> 0;
        hi >>>= 7;
      }
      this.buf[this.pos++] = lo & 0x01;
      return;
    }
    while (value > 0x7f) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.pos++] = value;
  }

  string(field: number, value: string): void {
    const n = this.sizes.take();
    this.buf[this.pos++] = tag(field, LENGTH);
    this.varint(n);
    if (n === value.length && n <= SHORT) {
      const { buf } = this;
      let pos = this.pos;
      for (let i = 0; i < n; i++) buf[pos++] = value.charCodeAt(i);
      this.pos = pos;
    } else this.pos += this.buf.write(value, this.pos, n, "utf8");
  }

  /** A nested message's tag and length; its fields follow. */
  open(field: number): void {
    this.buf[this.pos++] = tag(field, LENGTH);
    this.varint(this.sizes.take());
  }

  varintField(field: number, value: number): void {
    this.buf[this.pos++] = tag(field, VARINT);
    this.varint(value);
  }

  header(field: number, option: HeaderOption): void {
    this.open(field);
    this.open(1);
    this.string(1, option.header.key);
    this.string(2, option.header.value);
    this.open(2);
    this.varintField(1, option.append.value ? 1 : 0);
  }

  value(v: StructValue): void {
    if (v.numberValue !== undefined) {
      this.buf[this.pos++] = tag(2, FIXED64);
      this.pos = this.buf.writeDoubleLE(v.numberValue, this.pos);
    }
    if (v.stringValue !== undefined) this.string(3, v.stringValue);
    if (v.boolValue !== undefined) this.varintField(4, v.boolValue ? 1 : 0);
  }
}

export function writeCheckResponse(r: CheckResponseMessage): Buffer {
  const sizes = new Sizes();
  const size = measure(sizes, r);
  const w = new Writer(Buffer.allocUnsafe(size), sizes);
  w.open(1);
  w.varintField(1, r.status.code);
  if (r.status.message !== undefined) w.string(2, r.status.message);
  const denied = r.deniedResponse;
  if (denied !== undefined) {
    w.open(2);
    w.open(1);
    w.varintField(1, denied.status.code);
    for (const h of denied.headers) w.header(2, h);
    w.string(3, denied.body);
  }
  const ok = r.okResponse;
  if (ok !== undefined) {
    w.open(3);
    for (const h of ok.headers) w.header(2, h);
    for (const name of ok.headersToRemove ?? []) w.string(5, name);
  }
  const metadata = r.dynamicMetadata;
  if (metadata !== undefined) {
    w.open(4);
    for (const key in metadata.fields) {
      w.open(1);
      w.string(1, key);
      w.open(2);
      w.value(metadata.fields[key]!);
    }
  }
  if (w.pos !== size) throw new Error(`CheckResponse writer: measured ${size} bytes, wrote ${w.pos}`);
  return w.buf;
}
