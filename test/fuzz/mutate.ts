/**
 * Seeded generation of CheckRequests for the fuzzer: valid requests as Envoy sends them, then mutated — paths in every
 * encoding (percent-encoding of any byte, `;` parameters, dot segments, slashes and backslashes, case, unicode,
 * control bytes), hosts (case, ports, trailing dots), headers (spoofed identity headers, names like JavaScript
 * built-ins, size), principals and certificates, and at the protobuf level (bit flips, truncation, inserted bytes,
 * dropped fields, repeated fields). Every case records the mutation classes applied to it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type protobuf from "protobufjs";
import {
  DENIED_TENANT,
  DESTINATION,
  ORDER,
  SHOP_CALLER,
  TENANT_HEADER,
  VAULT,
  VAULT_NAMESPACE,
  VAULT_PORT,
  VAULT_TENANT_HEADER,
  WEB,
} from "./policies.js";
import { repoRoot } from "./repo.js";

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface FuzzCase {
  readonly id: number;
  readonly classes: readonly string[];
  readonly bytes: Buffer;
}

const PKI = join(repoRoot(), "test", "fixtures", "pki");
const pem = (name: string) => encodeURIComponent(readFileSync(join(PKI, name), "utf8"));
const ORDER_CERT = pem("order.pem");
const BILLING_CERT = pem("billing.pem");

/** Where requests aim: protected paths, and paths that lead there from an allowed prefix. */
const TARGETS = [
  "/admin",
  "/admin/",
  "/admin/users",
  "/api/internal/keys",
  "/orders",
  "/orders/42",
  "/reports/export",
  "/ops/restart",
];
const BENIGN = ["/", "/api/v1/items", "/static/app.js", "/health", "/api/v1/", "/adminx", "/api/internalx", "/ordersx"];
const TRAVERSALS = [
  "../",
  "..;/",
  "%2e%2e/",
  "%2E%2E;/",
  ".%2e/",
  "%2e./",
  "..%3b/",
  "..%3B/",
  "./",
  ".;/",
  "%2e/",
  "..%2f",
  "..%5c",
  "..\\",
  "..;x=1/",
  "/",
  "%252e%252e/",
  "..%00/",
];
const SEGMENT_NOISE = [
  ";",
  ";x",
  ";jsessionid=1",
  "%3b",
  "%3B",
  ";/",
  "/",
  "//",
  "/./",
  "%2f",
  "%2F",
  "\\",
  "%5c",
  "%00",
  "%",
  "%zz",
  "é",
  "%c3%a9",
  "\u0130",
  "\uff0f",
  "\u2215",
  "\u202e",
  "\t",
  " ",
];
const HOSTS = ["admin.internal", "www.example.com", "api.shop", "ADMIN.INTERNAL", "admin.internal.example"];
const HEADER_NAMES = [
  "x-trustgate-peer-spiffe-id",
  "X-TrustGate-Peer-Spiffe-Id",
  "x-trustgate-peer-cert-sha256",
  "x-trustgate-peer-mtls",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "x-forwarded-client-cert",
  "x-request-id",
  ":authority",
  ":path",
  "host",
];
const PRINCIPALS = [
  ORDER,
  ORDER,
  WEB,
  SHOP_CALLER,
  "",
  "",
  "spiffe://cluster.local",
  "spiffe://evil.example/ns/services/sa/order",
  "spiffe://cluster.local/ns/services/sa/order/",
  "SPIFFE://cluster.local/ns/services/sa/order",
  "spiffe://cluster.local/ns/services/sa/order\u0000",
  "order.services.svc.cluster.local",
  "spiffe://cluster.local/ns/../sa/order",
];
const METHODS = ["GET", "POST", "DELETE", "get", "", "G\u0000T", "CONNECT", "X".repeat(300)];
/** A DENY covers DELETE: the same method in other letter cases (an HTTP/2 `:method` is not case-checked). */
const METHOD_CASES = ["delete", "Delete", "dELETE", "DELETe"];

function encodeChar(c: string, upper: boolean): string {
  return [...Buffer.from(c, "utf8")]
    .map((b) => `%${b.toString(16).padStart(2, "0")[upper ? "toUpperCase" : "toLowerCase"]()}`)
    .join("");
}

function mutatePath(r: Random, classes: string[]): string {
  let path: string;
  if (r.chance(0.5)) {
    // An attack shape: benign prefix, traversal(s), then a protected target.
    const prefix = r.pick(["/api/", "/static/", "/api/v1/", "/", "//"]);
    let traversal = "";
    for (let i = 0, n = 1 + r.int(3); i < n; i++) traversal += r.pick(TRAVERSALS);
    path = `${prefix}${traversal}${r.pick(TARGETS).slice(1)}`;
    classes.push("path:traversal");
  } else path = r.pick(r.chance(0.5) ? TARGETS : BENIGN);
  for (let i = 0, n = r.int(4); i < n; i++) {
    const kind = r.int(8);
    const at = r.int(path.length + 1);
    switch (kind) {
      case 0: {
        // Percent-encode one character (any: letters, dots, slashes), in either case.
        if (path.length === 0) break;
        const j = r.int(path.length);
        path = path.slice(0, j) + encodeChar(path[j]!, r.chance(0.5)) + path.slice(j + 1);
        classes.push("path:percent");
        break;
      }
      case 1:
        path = path.slice(0, at) + r.pick(SEGMENT_NOISE) + path.slice(at);
        classes.push("path:noise");
        break;
      case 2: {
        // Path parameters on a random segment end.
        const slash = path.indexOf("/", at);
        const j = slash === -1 ? path.length : slash;
        path = `${path.slice(0, j)};${r.pick(["", "x", "a=b", "..", "/"])}${path.slice(j)}`;
        classes.push("path:semicolon");
        break;
      }
      case 3:
        path = r.chance(0.5) ? path.toUpperCase() : path.replace(/[a-z]/, (c) => c.toUpperCase());
        classes.push("path:case");
        break;
      case 4:
        path += r.pick(["?x=1", "?", "#f", "?a=/admin", "?../admin", "#/../admin"]);
        classes.push("path:query");
        break;
      case 5:
        if (r.chance(0.5)) {
          path = path.replace(/\//g, () => (r.chance(0.3) ? "//" : "/"));
          classes.push("path:slashes");
        } else {
          // A trailing slash (or two) that many routers ignore.
          path += r.pick(["/", "//", "/;", "%2f"]);
          classes.push("path:trailing-slash");
        }
        break;
      case 6:
        path = r.pick([
          "",
          "*",
          "admin",
          "./admin",
          "%2fadmin",
          "\\admin",
          "/".repeat(r.int(50) + 1),
          `/${"a/".repeat(3000)}`,
        ]);
        classes.push("path:odd");
        break;
      default:
        path = path.slice(0, at) + String.fromCodePoint(r.int(0x110000) & 0xd7ff) + path.slice(at);
        classes.push("path:unicode");
    }
  }
  return path;
}

function mutateHost(r: Random, classes: string[]): string {
  let host = r.pick(HOSTS);
  if (r.chance(0.3)) {
    host = host.replace(/[a-z]/g, (c) => (r.chance(0.5) ? c.toUpperCase() : c));
    classes.push("host:case");
  }
  if (r.chance(0.3)) {
    host += ".";
    classes.push("host:trailing-dot");
  }
  if (r.chance(0.3)) {
    host += r.pick([":443", ":80", ":", ":8080", ":99999"]);
    classes.push("host:port");
  }
  if (r.chance(0.08)) {
    host = r.pick([
      "",
      "[::1]:443",
      "admin.internal..",
      " admin.internal",
      "admin.internal\u0000",
      "admın.internal",
      "admin%2einternal",
      "admin.internal:443:443",
      "user@admin.internal",
      "\tadmin.internal",
      "admin.internal ",
      "ADMIN%2Einternal.:80",
      "admin.internal%2e",
      "x@ADMIN.INTERNAL.:8443",
    ]);
    classes.push("host:odd");
  }
  return host;
}

function headers(r: Random, classes: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  out["x-request-id"] = `req-${r.int(1e6)}`;
  for (let i = 0, n = r.int(4); i < n; i++) {
    const name = r.pick(HEADER_NAMES).toLowerCase();
    out[name] = r.pick([ORDER, "true", `sha256:${"0".repeat(64)}`, "x", "", "\u0000", "a".repeat(r.int(3) * 4000)]);
    classes.push(name.startsWith("x-trustgate-") ? "header:spoofed-identity" : "header:odd");
  }
  if (r.chance(0.1)) {
    // The DENY on this header shares its condition with an AUDIT policy's negated one (policies.ts).
    out[TENANT_HEADER] = r.pick([DENIED_TENANT, DENIED_TENANT, "Blocked", `${DENIED_TENANT} `, "other", ""]);
    classes.push("header:shared-condition");
  }
  return out;
}

/** Caller addresses around the denied 10.9.0.0/16: the same hosts in other spellings, neighbours, and junk. */
const SOURCE_IPS = [
  "10.9.1.1",
  "::ffff:10.9.1.1",
  "::FFFF:10.9.1.1",
  "::ffff:a09:101",
  "0:0:0:0:0:ffff:a09:101",
  "010.009.001.001",
  "10.9.1.1%eth0",
  "10.10.1.1",
  "::ffff:10.10.1.1",
  "64:ff9b::a09:101",
  "fd00::1",
  "",
  "not-an-address",
];

function sourceIp(r: Random, classes: string[]): string {
  if (r.chance(0.85)) return "10.0.0.7";
  classes.push("source-ip");
  return r.pick(SOURCE_IPS);
}

function method(r: Random, classes: string[]): string {
  if (r.chance(0.9)) return r.pick(["GET", "POST"]);
  if (r.chance(0.3)) {
    classes.push("method:case");
    return r.pick(METHOD_CASES);
  }
  return r.pick(METHODS);
}

/** A CheckRequest (upstream field names) as Envoy would send it, with mutated fields. */
export function checkRequestObject(r: Random, classes: string[]): Record<string, unknown> {
  // The vault (policies.ts): its ALLOW rule is skipped on TCP, where it has an entry a connection would meet.
  const vault = r.chance(0.08);
  const principal = vault && r.chance(0.6) ? SHOP_CALLER : r.pick(PRINCIPALS);
  if (![ORDER, WEB, SHOP_CALLER, ""].includes(principal)) classes.push("principal:odd");
  let certificate = "";
  if (r.chance(0.2)) {
    certificate = r.pick([ORDER_CERT, BILLING_CERT, "%%%garbage", ORDER_CERT.slice(0, 200), ""]);
    classes.push("certificate");
  }
  const tcp = r.chance(vault ? 0.5 : 0.05);
  if (tcp) classes.push("tcp");
  if (vault) classes.push(tcp ? "vault:tcp-mixed-allow-rule" : "vault:http");
  const host = mutateHost(r, classes);
  const http = tcp
    ? undefined
    : {
        id: String(r.int(1e9)),
        method: method(r, classes),
        path: mutatePath(r, classes),
        host,
        scheme: "http",
        protocol: "HTTP/1.1",
        headers: headers(r, classes),
      };
  if (http !== undefined && vault && r.chance(0.7))
    (http.headers as Record<string, string>)[VAULT_TENANT_HEADER] = "acme";
  if (http !== undefined && vault && r.chance(0.3)) {
    // A large tenant header sent raw (encode_raw_headers), in bytes that are not UTF-8: each becomes U+FFFD (3 bytes)
    // in the deny reason, which a response once carried unbounded, three times, past gRPC's 4 MiB send limit (an
    // error status, which failure_mode_allow turns into an allow).
    const entries = Object.entries(http.headers).map(([key, value]) => ({ key, rawValue: Buffer.from(value) }));
    const kept = entries.filter((e) => e.key !== VAULT_TENANT_HEADER);
    kept.push({ key: VAULT_TENANT_HEADER, rawValue: Buffer.alloc(r.pick([1000, 600_000, 600_000]), 0x80) });
    Object.assign(http, { headers: undefined, headerMap: { headers: kept } });
    classes.push("header:huge-echoed-value");
  }
  const request: Record<string, unknown> = {
    attributes: {
      source: {
        address: { socketAddress: { address: sourceIp(r, classes), portValue: 40000 + r.int(1000) } },
        principal,
        certificate,
      },
      destination: vault
        ? {
            address: { socketAddress: { address: "10.0.0.10", portValue: r.chance(0.8) ? VAULT_PORT : 8080 } },
            principal: VAULT,
          }
        : {
            address: { socketAddress: { address: "10.0.0.9", portValue: 8080 } },
            principal: r.chance(0.97) ? DESTINATION : r.pick(["", "spiffe://cluster.local/ns/other/sa/x", "garbage"]),
          },
      request: http ? { http } : undefined,
      contextExtensions: r.chance(0.1)
        ? vault
          ? { "trustgate.namespace": VAULT_NAMESPACE }
          : // The destination's pods carry app=api (the oracle counts on it); __proto__ must stay an ordinary label.
            { "trustgate.label.__proto__": "x", "trustgate.label.app": "api", "trustgate.namespace": "shop" }
        : undefined,
    },
  };
  return request;
}

/** Drops one field anywhere in the object tree (a field Envoy might leave out, or a malformed sender). */
function dropField(r: Random, value: Record<string, unknown>): void {
  let node: Record<string, unknown> = value;
  for (let depth = 0; depth < 5; depth++) {
    const keys = Object.keys(node).filter((k) => node[k] !== undefined);
    if (keys.length === 0) return;
    const key = r.pick(keys);
    const child = node[key];
    if (depth > 0 && (r.chance(0.4) || typeof child !== "object" || child === null)) {
      delete node[key];
      return;
    }
    if (typeof child !== "object" || child === null) return;
    node = child as Record<string, unknown>;
  }
}

/** A protobuf length-delimited field. */
function lengthDelimited(field: number, body: Buffer): Buffer {
  const length: number[] = [];
  let n = body.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([(field << 3) | 2]), Buffer.from(length), body]);
}

/**
 * Forwarded metadata (a `google.protobuf.Struct`) nested `depth` levels deep, as an extra
 * attributes.metadata_context that protobuf merges into the request's: past 50 levels (two messages per level) the
 * decoder's recursion limit of 100 refuses the bytes. protobufjs will not encode that deep, hence by hand.
 */
function deeplyNested(bytes: Buffer, depth: number): Buffer {
  let struct = lengthDelimited(
    1,
    Buffer.concat([lengthDelimited(1, Buffer.from("leaf")), lengthDelimited(2, lengthDelimited(3, Buffer.from("x")))]),
  );
  for (let i = 0; i < depth; i++) {
    struct = lengthDelimited(
      1,
      Buffer.concat([lengthDelimited(1, Buffer.from("a")), lengthDelimited(2, lengthDelimited(5, struct))]),
    );
  }
  const entry = Buffer.concat([
    lengthDelimited(1, Buffer.from("envoy.filters.http.jwt_authn")),
    lengthDelimited(2, struct),
  ]);
  return Buffer.concat([bytes, lengthDelimited(1, lengthDelimited(11, lengthDelimited(1, entry)))]);
}

function mutateBytes(r: Random, bytes: Buffer, classes: string[]): Buffer {
  const kind = r.int(5);
  const out = Buffer.from(bytes);
  switch (kind) {
    case 0: {
      for (let i = 0, n = 1 + r.int(8); i < n && out.length > 0; i++) out[r.int(out.length)]! ^= 1 << r.int(8);
      classes.push("bytes:bit-flip");
      return out;
    }
    case 1:
      classes.push("bytes:truncate");
      return out.subarray(0, r.int(out.length + 1));
    case 2: {
      const at = r.int(out.length + 1);
      const extra = Buffer.from(Array.from({ length: 1 + r.int(16) }, () => r.int(256)));
      classes.push("bytes:insert");
      return Buffer.concat([out.subarray(0, at), extra, out.subarray(at)]);
    }
    case 3:
      // A message repeated: every field appears twice (protobuf merges: last scalar wins, repeated fields append).
      classes.push("bytes:repeat");
      return Buffer.concat([out, out]);
    default:
      classes.push("bytes:deep-nesting");
      return deeplyNested(out, r.pick([20, 40, 49, 50, 60, 200]));
  }
}

export function makeCase(id: number, seed: number, requestType: protobuf.Type): FuzzCase {
  const r = new Random((seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0);
  const classes: string[] = [];
  const object = checkRequestObject(r, classes);
  if (r.chance(0.1)) {
    dropField(r, object);
    classes.push("field-drop");
  }
  let bytes: Buffer = Buffer.from(requestType.encode(requestType.fromObject(object)).finish());
  // Not with a huge header: a repeated message would pass the 1 MiB request limit (RESOURCE_EXHAUSTED, by design).
  if (r.chance(0.15) && !classes.includes("header:huge-echoed-value")) bytes = mutateBytes(r, bytes, classes);
  return { id, classes, bytes };
}
