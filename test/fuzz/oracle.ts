/**
 * The fuzzer's oracle: which requests the policy set (policies.ts) must deny, decided the way a backend server would
 * read the request — written for the test, sharing no code with trustgate. It is one-sided: it names requests that
 * must be denied; anything else may be allowed or denied.
 *
 * - Paths: every way a common server may read the path counts. A server may treat `\` as `/`, percent-decode once,
 *   strip `;parameters` from each segment (before or after decoding, as Tomcat, Jetty and Spring variously do),
 *   merge slashes (before or after resolving dot segments), resolve `.`/`..` (RFC 3986) and ignore a trailing `/`
 *   (Express by default, Rails, Spring MVC before 6). If any of those readings is a path a DENY covers, the request
 *   must be denied; if any is under the order API, only the order workload may be allowed.
 * - Methods: an HTTP/2 `:method` in other letter cases reaches servers that read it case-insensitively (Django's
 *   class-based views call `request.method.lower()`), so DELETE in any ASCII case must be denied.
 * - Caller addresses: `::ffff:10.9.1.1` and `::ffff:a09:101` are the IPv4 host 10.9.1.1, and a dotted quad with
 *   leading zeros is that address to many parsers, so a DENY on 10.9.0.0/16 covers all of them.
 * - Hosts: DNS names are case-insensitive and `name.` is the same name as `name`; a port is not part of the name.
 *   A lenient server also reads a malformed authority: it trims white space, drops `user@`, percent-decodes, and
 *   reads the host up to the first `:`. A host that is `admin.internal` under any of those readings must be denied.
 * - Headers: a request whose `x-fuzz-tenant` header (as Envoy sends the header map) is exactly `blocked` is denied.
 * - Identity: only what Envoy reports (source.principal, and the SAN of source.certificate when it sends one) is the
 *   caller. Headers are never identity, whatever they claim.
 * - Scope: the policies are the destination workload's (namespace `shop`) and the vault's (namespace `vault`); the
 *   oracle judges requests to those two only (a request to another namespace has no policy, which Istio allows).
 * - The vault: its one ALLOW rule has HTTP-only fields, which istiod cannot generate for a TCP filter chain, so it
 *   skips the whole rule there: no TCP connection may be allowed. Over HTTP, only a caller whose identity (as Envoy
 *   reports it) is in namespace `shop` may be.
 */
import { X509Certificate } from "node:crypto";
import {
  DENIED_EXACT,
  DENIED_HOST,
  DENIED_METHOD,
  DENIED_PREFIXES,
  DENIED_SELECTED_PREFIXES,
  DENIED_SOURCE_PREFIX,
  DENIED_TENANT,
  DESTINATION,
  NAMESPACE,
  ORDER,
  ORDER_ONLY_EXACT,
  ORDER_ONLY_PREFIXES,
  VAULT,
} from "./policies.js";

export interface OracleInput {
  /** destination.principal as Envoy reports it. */
  readonly destination: string;
  /** null: a TCP check, no HTTP request. */
  readonly http: {
    readonly path: string;
    readonly host: string;
    readonly method: string;
    /** The `x-fuzz-tenant` request header as Envoy sends it (absent: undefined). */
    readonly tenant?: string;
  } | null;
  readonly principal: string;
  /** As Envoy sends it: URL-encoded PEM, or "". */
  readonly certificate: string;
  /** source.address.socket_address.address, as sent. */
  readonly sourceIp: string;
  /**
   * The destination's labels as the CheckRequest itself gives them (destination.labels, then the sidecar's
   * `trustgate.label.*` context extensions over them: both set by the sidecar, not the client); null when it gives none.
   */
  readonly destinationLabels: Readonly<Record<string, string>> | null;
}

export interface Forbidden {
  readonly rule:
    | "vault-tcp"
    | "vault-caller"
    | "denied-path"
    | "denied-host"
    | "denied-method"
    | "denied-source"
    | "denied-tenant"
    | "order-only-path";
  readonly detail: string;
  /** Readings that need `;parameters` stripped to reach a covered path (for classifying findings). */
  readonly viaSemicolon: boolean;
  /** The host only matches once a trailing dot is removed. */
  readonly viaTrailingDot: boolean;
}

function decodeOnce(path: string): string {
  // Byte-wise: %XX → the byte; invalid escapes stay as they are (servers differ; the raw form is another reading).
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    if (path[i] === "%" && /^[0-9a-fA-F]{2}$/.test(path.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(path.slice(i + 1, i + 3), 16));
      i += 2;
    } else for (const b of Buffer.from(path[i]!, "utf8")) bytes.push(b);
  }
  return Buffer.from(bytes).toString("latin1");
}

function stripParameters(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      const semicolon = segment.indexOf(";");
      return semicolon === -1 ? segment : segment.slice(0, semicolon);
    })
    .join("/");
}

function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, "/");
}

/** RFC 3986 remove_dot_segments on an absolute path. */
function resolveDots(path: string): string {
  const input = path.split("/").slice(1);
  const output: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const segment = input[i]!;
    const last = i === input.length - 1;
    if (segment === ".") {
      if (last) output.push("");
    } else if (segment === "..") {
      output.pop();
      if (last) output.push("");
    } else output.push(segment);
  }
  return `/${output.join("/")}`;
}

export interface Reading {
  readonly path: string;
  readonly strippedParameters: boolean;
}

/** Every reading of the request target's path that the server behaviours above produce. */
export function readings(target: string): Reading[] {
  const cut = target.search(/[?#]/);
  const raw = cut === -1 ? target : target.slice(0, cut);
  const read = (strip: boolean): Set<string> => {
    const out = new Set<string>();
    for (const backslash of [false, true]) {
      for (const decode of strip ? (["none", "before", "after"] as const) : (["none", "before"] as const)) {
        for (const mergeFirst of [false, true]) {
          let p = backslash ? raw.replaceAll("\\", "/") : raw;
          if (decode === "before") p = decodeOnce(p);
          if (strip) p = stripParameters(p);
          if (decode === "after") p = decodeOnce(p);
          if (backslash) p = p.replaceAll("\\", "/");
          if (!p.startsWith("/")) continue;
          const resolved = mergeFirst ? resolveDots(mergeSlashes(p)) : mergeSlashes(resolveDots(p));
          out.add(resolved);
          if (resolved.length > 1 && resolved.endsWith("/")) out.add(resolved.slice(0, -1));
        }
      }
    }
    return out;
  };
  const plain = read(false);
  const stripped = read(true);
  return [
    ...[...plain].map((path) => ({ path, strippedParameters: false })),
    ...[...stripped].filter((path) => !plain.has(path)).map((path) => ({ path, strippedParameters: true })),
  ];
}

function covered(path: string, exact: readonly string[], prefixes: readonly string[]): boolean {
  return exact.includes(path) || prefixes.some((p) => path.startsWith(p));
}

/** The DNS name an authority names: lower case, without port, without the trailing dot of the absolute form. */
export function hostName(authority: string): { name: string; hadTrailingDot: boolean } {
  let host = authority.toLowerCase();
  if (host.startsWith("[")) return { name: host, hadTrailingDot: false }; // IPv6 literal
  const port = /:\d*$/.exec(host);
  if (port) host = host.slice(0, port.index);
  const hadTrailingDot = host.endsWith(".") && !host.endsWith("..");
  return { name: hadTrailingDot ? host.slice(0, -1) : host, hadTrailingDot };
}

/** The host a lenient server reads from any authority (see the header comment), lower case, trailing dots dropped. */
export function lenientHostName(authority: string): string {
  let host = authority.replace(/^[ \t]+|[ \t]+$/g, "");
  host = host.slice(host.lastIndexOf("@") + 1);
  try {
    host = decodeURIComponent(host);
  } catch {
    // read as written
  }
  if (!host.startsWith("[")) host = host.split(":")[0]!;
  return host
    .replace(/[ \t]+$/, "")
    .replace(/\.+$/, "")
    .toLowerCase();
}

function certificateSan(certificate: string): string | null {
  try {
    const san = new X509Certificate(decodeURIComponent(certificate)).subjectAltName ?? "";
    const uri = /URI:([^,\s]+)/.exec(san);
    return uri ? uri[1]! : null;
  } catch {
    return null;
  }
}

/** True when Envoy reports the order workload as the caller, and nothing it reports disagrees. */
function callerIsOrder(input: OracleInput): boolean {
  const ids: Array<string | null> = [];
  if (input.principal !== "") ids.push(input.principal);
  if (input.certificate !== "") ids.push(certificateSan(input.certificate));
  return ids.length > 0 && ids.every((id) => id === ORDER);
}

/** The IPv4 address a caller address names, read leniently (mapped IPv6 forms, leading zeros); null for none. */
export function ipv4Of(address: string): string | null {
  const lower = address.toLowerCase();
  const mapped = /^(?:0{0,4}:){5}ffff:(.+)$/.exec(lower) ?? /^::ffff:(.+)$/.exec(lower);
  const rest = mapped ? mapped[1]! : lower;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(rest);
  if (mapped && hex) {
    const hi = Number.parseInt(hex[1]!, 16);
    const lo = Number.parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const quad = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(rest);
  if (!quad) return null;
  const parts = quad.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? parts.join(".") : null;
}

/** The vault allows no TCP connection, and over HTTP only callers from namespace shop (see the top). */
function vaultMustDeny(input: OracleInput): Forbidden[] {
  if (input.http === null) {
    return [{ rule: "vault-tcp", detail: "a TCP connection", viaSemicolon: false, viaTrailingDot: false }];
  }
  // Leniently, as Istio's namespaces regex `.*/ns/shop/.*` reads any reported identity.
  const ids = [input.principal, input.certificate === "" ? null : certificateSan(input.certificate)];
  const fromShop = ids.some((id) => id?.includes(`/ns/${NAMESPACE}/`));
  if (fromShop) return [];
  return [{ rule: "vault-caller", detail: `caller ${input.principal}`, viaSemicolon: false, viaTrailingDot: false }];
}

/** Why the request must be denied; empty when the oracle does not forbid allowing it. */
export function mustDeny(input: OracleInput): Forbidden[] {
  if (input.destination === VAULT) return vaultMustDeny(input);
  if (input.destination !== DESTINATION) return [];
  const out: Forbidden[] = [];
  if (ipv4Of(input.sourceIp)?.startsWith(DENIED_SOURCE_PREFIX)) {
    out.push({ rule: "denied-source", detail: `caller ${input.sourceIp}`, viaSemicolon: false, viaTrailingDot: false });
  }
  if (input.http === null) return out;
  const all = readings(input.http.path);
  // The DENY scoped to app=api: the destination carries it unless the request's own (sidecar-set) labels say otherwise.
  const labels = input.destinationLabels;
  const selected = labels === null || (Object.hasOwn(labels, "app") && labels.app === "api");
  const denied = all.filter(
    (r) =>
      covered(r.path, DENIED_EXACT, DENIED_PREFIXES) || (selected && covered(r.path, [], DENIED_SELECTED_PREFIXES)),
  );
  if (denied.length > 0) {
    out.push({
      rule: "denied-path",
      detail: `read as ${denied[0]!.path}`,
      viaSemicolon: denied.every((r) => r.strippedParameters),
      viaTrailingDot: false,
    });
  }
  const orderOnly = all.filter((r) => covered(r.path, ORDER_ONLY_EXACT, ORDER_ONLY_PREFIXES));
  if (orderOnly.length > 0 && !callerIsOrder(input)) {
    out.push({
      rule: "order-only-path",
      detail: `read as ${orderOnly[0]!.path} by a caller that is not ${ORDER}`,
      viaSemicolon: orderOnly.every((r) => r.strippedParameters),
      viaTrailingDot: false,
    });
  }
  if (input.http.method.replace(/[a-z]/g, (c) => c.toUpperCase()) === DENIED_METHOD) {
    out.push({
      rule: "denied-method",
      detail: `method ${input.http.method}`,
      viaSemicolon: false,
      viaTrailingDot: false,
    });
  }
  if (input.http.tenant === DENIED_TENANT) {
    out.push({ rule: "denied-tenant", detail: `tenant ${DENIED_TENANT}`, viaSemicolon: false, viaTrailingDot: false });
  }
  const host = hostName(input.http.host);
  if (host.name === DENIED_HOST || lenientHostName(input.http.host) === DENIED_HOST) {
    out.push({
      rule: "denied-host",
      detail: `host ${input.http.host}`,
      viaSemicolon: false,
      viaTrailingDot: host.hadTrailingDot,
    });
  }
  return out;
}
