// The revocation list: identities and certificate fingerprints that trustgate revoked (by an operator
// or at critical Falco risk). Polled from trustgate's GET /v1/revocations; parsed strictly.
import { ByteSet } from "./byteset";
import { JsonReader } from "./json-reader";
import { describeSpiffeError, SpiffeError, validateSpiffeId } from "./spiffe";

/** Longest body accepted (a larger one is a poll failure, never an unbounded allocation). */
export const MAX_BODY_BYTES: u32 = 4 * 1024 * 1024;
const MAX_SAFE_INTEGER: f64 = 9007199254740991;

export class RevocationList {
  constructor(
    public version: u64,
    public spiffeIds: ByteSet,
    public fingerprints: ByteSet,
  ) {}

  static empty(): RevocationList {
    return new RevocationList(0, new ByteSet([]), new ByteSet([]));
  }
}

/** Set when parseRevocationList returns null. */
export let revocationParseError: string = "";

const FINGERPRINT_PREFIX = String.UTF8.encode("sha256:");
const FINGERPRINT_LENGTH = 71;

/** `sha256:` followed by exactly 64 lower-case hex digits. */
function validFingerprint(b: ArrayBuffer): bool {
  const p = changetype<usize>(b);
  if (b.byteLength != FINGERPRINT_LENGTH || memory.compare(p, changetype<usize>(FINGERPRINT_PREFIX), 7) != 0) {
    return false;
  }
  for (let i = 7; i < FINGERPRINT_LENGTH; i++) {
    const c = load<u8>(p + i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const VERSION = String.UTF8.encode("version");
const SPIFFE_IDS = String.UTF8.encode("spiffeIds");
const FINGERPRINTS = String.UTF8.encode("fingerprints");
const FINGERPRINT_RULE = ' is not "sha256:" followed by 64 lower-case hex digits';
/** Longest key quoted in an error (the body is up to 4 MiB; the log line should not be). */
const MAX_QUOTED_KEY = 64;

function equalBytes(a: ArrayBuffer, b: ArrayBuffer): bool {
  return a.byteLength == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), a.byteLength) == 0;
}

// One reader for the VM: polls are sequential, and its state is reset on every parse.
const reader = new JsonReader();

/**
 * Parses `{"version":<positive integer>,"spiffeIds":[...],"fingerprints":[...]}`. Exactly these keys;
 * every SPIFFE ID and fingerprint must be well formed, otherwise the whole body is rejected.
 *
 * The body is read in one pass for exactly this shape, not as a generic JSON tree: the first byte
 * that cannot belong to a valid list ends the parse (an unknown key, a non-string entry, an invalid
 * ID), so time is linear in the body and memory is the entries accepted so far, never a tree.
 */
export function parseRevocationList(ptr: usize, len: usize): RevocationList | null {
  revocationParseError = "";
  const r = reader;
  r.reset(ptr, len);
  if (!r.eat(0x7b)) return r.atEnd() ? malformed("unexpected end of input") : reject("the body is not a JSON object");
  let version: f64 = -1;
  let ids: Array<ArrayBuffer> | null = null;
  let fps: Array<ArrayBuffer> | null = null;
  if (!r.eat(0x7d)) {
    do {
      if (r.peek() != 0x22) return malformed("expected a string key");
      const key = r.readStringBytes();
      if (key === null) return malformed("");
      if (!r.eat(0x3a)) return malformed("expected ':'");
      if (equalBytes(key, VERSION)) {
        if (version >= 0) return reject('duplicate key "version"');
        const c = r.peek();
        if (c != 0x2d && !(c >= 0x30 && c <= 0x39)) return reject('"version" must be a positive integer');
        if (!r.readNumber()) return malformed("");
        if (!r.isInteger || r.numValue < 1 || r.numValue > MAX_SAFE_INTEGER) {
          return reject('"version" must be a positive integer');
        }
        version = r.numValue;
      } else if (equalBytes(key, SPIFFE_IDS)) {
        if (ids !== null) return reject('duplicate key "spiffeIds"');
        ids = readEntries(r, true);
        if (ids === null) return null;
      } else if (equalBytes(key, FINGERPRINTS)) {
        if (fps !== null) return reject('duplicate key "fingerprints"');
        fps = readEntries(r, false);
        if (fps === null) return null;
      } else {
        const long = key.byteLength > MAX_QUOTED_KEY;
        const shown = String.UTF8.decode(long ? key.slice(0, MAX_QUOTED_KEY) : key);
        return reject('unknown key "' + shown + (long ? '…"' : '"'));
      }
    } while (r.eat(0x2c));
    if (!r.eat(0x7d)) return malformed(r.atEnd() ? "unterminated object" : "expected ',' or '}'");
  }
  if (!r.atEnd()) return malformed("unexpected data after the JSON value");
  if (version < 0) return reject('missing "version"');
  if (ids === null) return reject('"spiffeIds" must be an array');
  if (fps === null) return reject('"fingerprints" must be an array');
  return new RevocationList(<u64>version, new ByteSet(ids), new ByteSet(fps));
}

/** An array of SPIFFE IDs (or fingerprints), each checked as it is read; null (error set) on the first bad one. */
function readEntries(r: JsonReader, spiffe: bool): Array<ArrayBuffer> | null {
  const name = spiffe ? "spiffeIds" : "fingerprints";
  if (!r.eat(0x5b)) {
    reject('"' + name + '" must be an array');
    return null;
  }
  const out = new Array<ArrayBuffer>();
  if (r.eat(0x5d)) return out;
  do {
    if (r.peek() != 0x22) {
      if (r.atEnd()) malformed("unterminated array");
      else if (spiffe) reject(entryName(name, out) + " is not a string");
      else reject(entryName(name, out) + FINGERPRINT_RULE);
      return null;
    }
    const entry = r.readStringBytes();
    if (entry === null) {
      malformed("");
      return null;
    }
    if (spiffe) {
      const err = validateSpiffeId(changetype<usize>(entry), entry.byteLength);
      if (err != SpiffeError.None) {
        reject(entryName(name, out) + " is not a valid SPIFFE ID: " + describeSpiffeError(err));
        return null;
      }
    } else if (!validFingerprint(entry)) {
      reject(entryName(name, out) + FINGERPRINT_RULE);
      return null;
    }
    out.push(entry);
  } while (r.eat(0x2c));
  if (!r.eat(0x5d)) {
    malformed(r.atEnd() ? "unterminated array" : "expected ',' or ']'");
    return null;
  }
  return out;
}

/** `name[i]` of the entry being read (built only for an error message: no allocation per entry). */
function entryName(name: string, entries: Array<ArrayBuffer>): string {
  return name + "[" + entries.length.toString() + "]";
}

/** A syntax error: `message` is recorded by the reader (with its byte offset) unless it already holds one. */
function malformed(message: string): RevocationList | null {
  if (message.length > 0) reader.fail(message);
  revocationParseError = "malformed JSON: " + reader.error;
  return null;
}

function reject(message: string): RevocationList | null {
  revocationParseError = message;
  return null;
}
