// Plugin configuration: parsed strictly from the JSON Envoy hands to proxy_on_configure.
// Unknown keys and wrong types are errors, so a typo can never silently turn a check off.
import { JsonKind, JsonParser, JsonValue, kindName } from "./json";
import { validTrustDomainName } from "./spiffe";

export class RevocationConfig {
  cluster: string = "";
  authority: string = "";
  path: string = "/v1/revocations";
  pollMs: u32 = 5000;
  timeoutMs: u32 = 0;
}

/** trustgate reads identity only under this prefix, so it is stripped whatever headerPrefix says. */
export const DEFAULT_HEADER_PREFIX = "x-trustgate-";

/**
 * A lower-case header name (or prefix) in the form header matching compares against: "_" as "-",
 * because Envoy forwards underscore names by default and CGI-style stacks read both as the same.
 */
export function matchForm(name: string): ArrayBuffer {
  const out = String.UTF8.encode(name);
  const p = changetype<usize>(out);
  for (let i = 0; i < out.byteLength; i++) {
    if (load<u8>(p + i) == 0x5f) store<u8>(p + i, 0x2d);
  }
  return out;
}

export class Config {
  requireMtls: bool = true;
  denyForeignTrustDomain: bool = true;
  denyRevoked: bool = true;
  allowedTrustDomains: Array<string> = [];
  headerPrefix: string = DEFAULT_HEADER_PREFIX;
  stripHeaders: Array<string> = [];
  revocation: RevocationConfig | null = null;

  // Byte forms used on the per-request path (built once by finish()).
  /** Prefixes stripped from inbound names: headerPrefix and the default, in match form. */
  stripPrefixes: Array<ArrayBuffer> = [];
  stripBytes: Array<ArrayBuffer> = [];
  trustDomainBytes: Array<ArrayBuffer> = [];
  spiffeIdHeader: ArrayBuffer = new ArrayBuffer(0);
  certSha256Header: ArrayBuffer = new ArrayBuffer(0);
  certSubjectHeader: ArrayBuffer = new ArrayBuffer(0);
  mtlsHeader: ArrayBuffer = new ArrayBuffer(0);

  finish(): Config {
    this.stripPrefixes.push(matchForm(this.headerPrefix));
    if (this.headerPrefix != DEFAULT_HEADER_PREFIX) this.stripPrefixes.push(matchForm(DEFAULT_HEADER_PREFIX));
    for (let i = 0; i < this.stripHeaders.length; i++) this.stripBytes.push(matchForm(this.stripHeaders[i]));
    for (let i = 0; i < this.allowedTrustDomains.length; i++) {
      this.trustDomainBytes.push(String.UTF8.encode(this.allowedTrustDomains[i]));
    }
    this.spiffeIdHeader = String.UTF8.encode(this.headerPrefix + "peer-spiffe-id");
    this.certSha256Header = String.UTF8.encode(this.headerPrefix + "peer-cert-sha256");
    this.certSubjectHeader = String.UTF8.encode(this.headerPrefix + "peer-cert-subject");
    this.mtlsHeader = String.UTF8.encode(this.headerPrefix + "peer-mtls");
    return this;
  }
}

const MAX_HEADER_NAME_LENGTH = 128;
/** Longest allowedTrustDomains / stripHeaders list: each is scanned per request and de-duplicated here. */
const MAX_LIST_ENTRIES = 256;
const MIN_POLL_MS: f64 = 100;
const MAX_POLL_MS: f64 = 86400000;
const MAX_TIMEOUT_MS: f64 = 60000;
const DEFAULT_TIMEOUT_MS: u32 = 2000;

/** Set when parseConfig returns null: what is wrong, for the log line Envoy shows. */
export let configError: string = "";

function fail(message: string): Config | null {
  configError = message;
  return null;
}

/** An HTTP token (RFC 9110 tchar) in lower case; header names are case-insensitive, so input is lower-cased. */
function headerName(s: string): string | null {
  if (s.length == 0 || s.length > MAX_HEADER_NAME_LENGTH) return null;
  // ASCII-only lower-casing (String#toLowerCase would pull Unicode tables into the binary).
  let lower = "";
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c == 0x2d ||
      c == 0x5f ||
      c == 0x2e ||
      c == 0x21 ||
      c == 0x23 ||
      c == 0x24 ||
      c == 0x25 ||
      c == 0x26 ||
      c == 0x27 ||
      c == 0x2a ||
      c == 0x2b ||
      c == 0x5e ||
      c == 0x60 ||
      c == 0x7c ||
      c == 0x7e;
    if (!ok) return null;
    lower += String.fromCharCode(c);
  }
  return lower;
}

function expectBool(v: JsonValue, name: string): bool {
  if (v.kind != JsonKind.Bool) {
    configError = '"' + name + '" must be a boolean, not ' + kindName(v.kind);
    return false;
  }
  return true;
}

function expectStringArray(v: JsonValue, name: string): bool {
  if (v.kind != JsonKind.Array) {
    configError = '"' + name + '" must be an array of strings, not ' + kindName(v.kind);
    return false;
  }
  if (v.items.length > MAX_LIST_ENTRIES) {
    configError = '"' + name + '" has more than ' + MAX_LIST_ENTRIES.toString() + " entries";
    return false;
  }
  for (let i = 0; i < v.items.length; i++) {
    if (v.items[i].kind != JsonKind.String) {
      configError = '"' + name + "[" + i.toString() + ']" must be a string';
      return false;
    }
  }
  return true;
}

function integerIn(v: JsonValue, name: string, min: f64, max: f64): bool {
  if (v.kind != JsonKind.Number || !v.isInteger || v.numValue < min || v.numValue > max) {
    configError = '"' + name + '" must be an integer from ' + (<u64>min).toString() + " to " + (<u64>max).toString();
    return false;
  }
  return true;
}

/** Bytes Envoy may pass in :path / :authority without breaking the request line (no CTLs, no spaces). */
function visibleAscii(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return s.length > 0;
}

function parseRevocation(v: JsonValue): RevocationConfig | null {
  if (v.kind != JsonKind.Object) {
    configError = '"revocation" must be an object, not ' + kindName(v.kind);
    return null;
  }
  const r = new RevocationConfig();
  let timeoutSet = false;
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    const item = v.items[i];
    if (key == "cluster" || key == "authority" || key == "path") {
      if (item.kind != JsonKind.String || !visibleAscii(item.strValue)) {
        configError = '"revocation.' + key + '" must be a non-empty string without spaces or control characters';
        return null;
      }
      if (key == "cluster") r.cluster = item.strValue;
      else if (key == "authority") r.authority = item.strValue;
      else {
        if (!item.strValue.startsWith("/")) {
          configError = '"revocation.path" must start with "/"';
          return null;
        }
        r.path = item.strValue;
      }
    } else if (key == "pollMs") {
      if (!integerIn(item, "revocation.pollMs", MIN_POLL_MS, MAX_POLL_MS)) return null;
      r.pollMs = <u32>item.numValue;
    } else if (key == "timeoutMs") {
      if (!integerIn(item, "revocation.timeoutMs", 1, MAX_TIMEOUT_MS)) return null;
      r.timeoutMs = <u32>item.numValue;
      timeoutSet = true;
    } else {
      configError = 'unknown key "revocation.' + key + '"';
      return null;
    }
  }
  if (r.cluster.length == 0) {
    configError = '"revocation.cluster" is required (the Envoy cluster that reaches trustgate\'s admin port)';
    return null;
  }
  if (r.authority.length == 0) r.authority = r.cluster;
  if (!timeoutSet) r.timeoutMs = r.pollMs < DEFAULT_TIMEOUT_MS ? r.pollMs : DEFAULT_TIMEOUT_MS;
  return r;
}

/** Parses the plugin configuration; an empty configuration means all defaults. */
export function parseConfig(ptr: usize, len: usize): Config | null {
  configError = "";
  const cfg = new Config();
  if (len == 0) return cfg.finish();
  const parser = new JsonParser();
  const root = parser.parse(ptr, len);
  if (root === null) return fail("not valid JSON: " + parser.error);
  if (root.kind != JsonKind.Object) return fail("must be a JSON object, not " + kindName(root.kind));

  for (let i = 0; i < root.keys.length; i++) {
    const key = root.keys[i];
    const v = root.items[i];
    if (key == "requireMtls") {
      if (!expectBool(v, key)) return null;
      cfg.requireMtls = v.boolValue;
    } else if (key == "denyForeignTrustDomain") {
      if (!expectBool(v, key)) return null;
      cfg.denyForeignTrustDomain = v.boolValue;
    } else if (key == "denyRevoked") {
      if (!expectBool(v, key)) return null;
      cfg.denyRevoked = v.boolValue;
    } else if (key == "allowedTrustDomains") {
      if (!expectStringArray(v, key)) return null;
      for (let j = 0; j < v.items.length; j++) {
        const td = v.items[j].strValue;
        if (!validTrustDomainName(td)) {
          return fail('"allowedTrustDomains[' + j.toString() + ']" is not a valid trust domain name ([a-z0-9.-_], 1-255)');
        }
        if (!cfg.allowedTrustDomains.includes(td)) cfg.allowedTrustDomains.push(td);
      }
    } else if (key == "headerPrefix") {
      if (v.kind != JsonKind.String) return fail('"headerPrefix" must be a string, not ' + kindName(v.kind));
      const p = headerName(v.strValue);
      if (p === null || p.length < 2) return fail('"headerPrefix" must be an HTTP header name prefix of 2-128 token characters');
      cfg.headerPrefix = p;
    } else if (key == "stripHeaders") {
      if (!expectStringArray(v, key)) return null;
      for (let j = 0; j < v.items.length; j++) {
        const h = headerName(v.items[j].strValue);
        if (h === null) return fail('"stripHeaders[' + j.toString() + ']" is not a valid HTTP header name');
        if (!cfg.stripHeaders.includes(h)) cfg.stripHeaders.push(h);
      }
    } else if (key == "revocation") {
      const r = parseRevocation(v);
      if (r === null) return null;
      cfg.revocation = r;
    } else {
      return fail('unknown key "' + key + '"');
    }
  }
  return cfg.finish();
}
