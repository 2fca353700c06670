// The revocation list: identities and certificate fingerprints that trustgate revoked (by an operator
// or at critical Falco risk). Polled from trustgate's GET /v1/revocations; parsed strictly.
import { ByteSet } from "./byteset";
import { JsonKind, JsonParser } from "./json";
import { describeSpiffeError, SpiffeError, validateSpiffeIdString } from "./spiffe";

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

/** `sha256:` followed by exactly 64 lower-case hex digits. */
export function validFingerprint(s: string): bool {
  if (s.length != 71 || !s.startsWith("sha256:")) return false;
  for (let i = 7; i < 71; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * Parses `{"version":<positive integer>,"spiffeIds":[...],"fingerprints":[...]}`. Exactly these keys;
 * every SPIFFE ID and fingerprint must be well formed, otherwise the whole body is rejected.
 */
export function parseRevocationList(ptr: usize, len: usize): RevocationList | null {
  revocationParseError = "";
  const parser = new JsonParser();
  const root = parser.parse(ptr, len);
  if (root === null) return reject("malformed JSON: " + parser.error);
  if (root.kind != JsonKind.Object) return reject("the body is not a JSON object");
  for (let i = 0; i < root.keys.length; i++) {
    const k = root.keys[i];
    if (k != "version" && k != "spiffeIds" && k != "fingerprints") return reject('unknown key "' + k + '"');
  }
  const version = root.get("version");
  if (version === null) return reject('missing "version"');
  if (
    version.kind != JsonKind.Number ||
    !version.isInteger ||
    version.numValue < 1 ||
    version.numValue > MAX_SAFE_INTEGER
  ) {
    return reject('"version" must be a positive integer');
  }
  const ids = root.get("spiffeIds");
  if (ids === null || ids.kind != JsonKind.Array) return reject('"spiffeIds" must be an array');
  const fps = root.get("fingerprints");
  if (fps === null || fps.kind != JsonKind.Array) return reject('"fingerprints" must be an array');

  const idBytes = new Array<ArrayBuffer>();
  for (let i = 0; i < ids.items.length; i++) {
    const item = ids.items[i];
    if (item.kind != JsonKind.String) return reject("spiffeIds[" + i.toString() + "] is not a string");
    const err = validateSpiffeIdString(item.strValue);
    if (err != SpiffeError.None) {
      return reject("spiffeIds[" + i.toString() + "] is not a valid SPIFFE ID: " + describeSpiffeError(err));
    }
    idBytes.push(String.UTF8.encode(item.strValue));
  }
  const fpBytes = new Array<ArrayBuffer>();
  for (let i = 0; i < fps.items.length; i++) {
    const item = fps.items[i];
    if (item.kind != JsonKind.String || !validFingerprint(item.strValue)) {
      return reject("fingerprints[" + i.toString() + '] is not "sha256:" followed by 64 lower-case hex digits');
    }
    fpBytes.push(String.UTF8.encode(item.strValue));
  }
  return new RevocationList(<u64>version.numValue, new ByteSet(idBytes), new ByteSet(fpBytes));
}

function reject(message: string): RevocationList | null {
  revocationParseError = message;
  return null;
}
