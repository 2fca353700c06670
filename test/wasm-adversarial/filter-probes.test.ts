/**
 * Adversarial probes of the trustgate proxy-wasm filter: the real compiled `wasm-filter/build/trustgate_filter.wasm`
 * run through the repository's proxy-wasm host emulator (`test/proxy-wasm-host`, Node's V8 as in Envoy).
 *
 * Each probe asserts the SAFE behaviour (what README.md / wasm-filter/README.md promise, or what Envoy does). A probe
 * that fails here is a finding against the product, not a broken test; see the comment above each one. A "FIXED:"
 * title names the defect a finding reported (now fixed in wasm-filter/); its assertions are the safe behaviour.
 *
 * Envoy's V8 runs every Wasm VM with `--wasm_max_mem_pages=16384` (1 GiB; proxy-wasm-cpp-host src/v8/v8.cc and
 * include/proxy-wasm/limits.h PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES). The emulator does not cap memory, so this
 * file sets the same V8 flag for its own (isolated, forked) worker process: an allocation past 1 GiB then fails the
 * way it does in Envoy (the AssemblyScript allocator traps, the VM fails, fail_open: false answers 503).
 */
import v8 from "node:v8";
import { describe, expect, test } from "vitest";
import {
  denyBody,
  mtlsPeer,
  ORDER_DIGEST,
  ORDER_ID,
  ORDER_SUBJECT,
  REQUEST,
  startFilter,
} from "../../wasm-filter/test/harness.js";
// Fault injection without touching the emulator: the host's own classes, patched per probe and restored.
import { GuestMemory } from "../proxy-wasm-host/guest-memory.js";
import { LogLevel, type PropertyMap, type ProxyWasmHost, prop } from "../proxy-wasm-host/index.js";

v8.setFlagsFromString("--wasm_max_mem_pages=16384");

const FORGED_ID = "spiffe://cluster.local/ns/data/sa/database";
const FORGED_FP = `sha256:${"0".repeat(64)}`;

/** Every header a normalising application stack (CGI/WSGI/Rack/PHP: `-` and `_` both become `_`, case folded) reads as the filter's. */
function identityLike(pairs: Array<[string, string]>): Array<[string, string]> {
  return pairs.filter(([k]) => k.toLowerCase().replaceAll("_", "-").startsWith("x-trustgate-"));
}

const REVOCATION = { cluster: "trustgate_admin", authority: "trustgate", path: "/v1/revocations", pollMs: 1000 };
const REVOKED_ID = "spiffe://cluster.local/ns/services/sa/order";

function poll(host: ProxyWasmHost) {
  host.tick();
  const call = host.httpCalls.at(-1);
  if (!call) throw new Error("no poll dispatched");
  return call;
}
function answer(host: ProxyWasmHost, status: string, body: string | Uint8Array = "") {
  const call = poll(host);
  host.respondHttpCall(call.token, { headers: [[":status", status]], body });
  return call;
}
function decide(host: ProxyWasmHost, props: PropertyMap = mtlsPeer()) {
  const s = host.newHttpStream({ properties: props });
  s.requestHeaders(REQUEST);
  return s;
}
function withRevokedOrder(): ProxyWasmHost {
  const host = startFilter({ revocation: REVOCATION });
  answer(host, "200", JSON.stringify({ version: 5, spiffeIds: [REVOKED_ID], fingerprints: [] }));
  expect(decide(host).localResponse?.statusCode).toBe(403);
  return host;
}

// ======================================================================================== header hygiene

describe("forged identity headers", () => {
  test("HOLDS: two x-trustgate-peer-spiffe-id lines, mixed case, other -peer-* names: all removed, real facts set once", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders([
      ...REQUEST,
      ["x-trustgate-peer-spiffe-id", FORGED_ID],
      ["X-TRUSTGATE-PEER-SPIFFE-ID", "spiffe://cluster.local/ns/data/sa/cache"],
      ["x-trustgate-peer-spiffe-id", ""],
      ["X-Trustgate-Peer-Cert-Sha256", FORGED_FP],
      ["x-trustgate-peer-cert-subject", "CN=admin"],
      ["x-trustgate-peer-mtls", "true"],
    ]);
    expect(s.localResponse).toBeNull();
    const h = s.request.headers;
    expect(h.getAll("x-trustgate-peer-spiffe-id")).toEqual([ORDER_ID]);
    expect(h.getAll("x-trustgate-peer-cert-sha256")).toEqual([`sha256:${ORDER_DIGEST}`]);
    expect(h.getAll("x-trustgate-peer-cert-subject")).toEqual([ORDER_SUBJECT]);
    expect(h.getAll("x-trustgate-peer-mtls")).toEqual(["true"]);
  });

  test("HOLDS: names with a trailing space or odd suffixes after the prefix are removed (emulator accepts them; Envoy's codecs would not)", () => {
    const host = startFilter({ requireMtls: false });
    const s = host.newHttpStream();
    s.requestHeaders([
      ...REQUEST,
      ["x-trustgate-peer-spiffe-id ", FORGED_ID],
      ["X-TRUSTGATE-PEER-SPIFFE-ID\t", FORGED_ID],
      ["x-trustgate-", "x"],
    ]);
    expect(s.request.headers.pairs().filter(([k]) => k.startsWith("x-trustgate-"))).toEqual([
      ["x-trustgate-peer-mtls", "false"],
    ]);
  });

  test("HOLDS: 5,000 header lines with 1,000 forged (1 KiB values, non-ASCII bytes): no trap, every forgery removed, memory bounded", () => {
    const host = startFilter();
    const before = host.memoryPages;
    for (let round = 0; round < 20; round++) {
      const pairs: Array<[string, string]> = [...REQUEST];
      for (let i = 0; i < 4000; i++) pairs.push([`x-pad-${i}`, "é".repeat(50)]);
      for (let i = 0; i < 1000; i++)
        pairs.push([i % 2 ? "x-trustgate-peer-spiffe-id" : `x-trustgate-${i}`, `\u00ff\u0080${"a".repeat(1024)}`]);
      const s = host.newHttpStream({ properties: mtlsPeer() });
      s.requestHeaders(pairs);
      expect(s.localResponse).toBeNull();
      expect(
        s.request.headers
          .pairs()
          .filter(([k]) => k.startsWith("x-trustgate-"))
          .map(([k]) => k)
          .sort(),
      ).toEqual([
        "x-trustgate-peer-cert-sha256",
        "x-trustgate-peer-cert-subject",
        "x-trustgate-peer-mtls",
        "x-trustgate-peer-spiffe-id",
      ]);
      s.complete();
    }
    expect(host.failed).toBe(false);
    expect(host.memoryPages - before).toBeLessThan(64);
  });

  test("HOLDS: a 1 MiB forged spiffe-id value is removed", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", `${FORGED_ID}/${"a".repeat(1 << 20)}`]]);
    expect(s.request.headers.getAll("x-trustgate-peer-spiffe-id")).toEqual([ORDER_ID]);
  });

  // FINDING (header smuggling to the application). The filter strips only names that start with "x-trustgate-"
  // (headers.ts mustStrip/startsWithIgnoreCase). Envoy forwards header names with underscores by default
  // (HttpProtocolOptions.headers_with_underscores_action: ALLOW), and CGI-style stacks (WSGI/Django META, Rack, PHP
  // $_SERVER, many Go/Java helpers) fold "-" and "_" together: `x_trustgate_peer_spiffe_id` and
  // `x-trustgate-peer-spiffe-id` both become HTTP_X_TRUSTGATE_PEER_SPIFFE_ID. wasm-filter/README.md promises the
  // filter "removes every inbound header a client could use to forge identity (`x-trustgate-*` …), whatever their
  // case", and the Istio section says it "gives the application trustworthy headers". With requireMtls:false and a
  // plaintext client, the forged underscore header is the only identity the application sees.
  test("FIXED: underscore spellings of the identity headers reach the application (plaintext, requireMtls:false)", () => {
    const host = startFilter({ requireMtls: false });
    const s = host.newHttpStream({ properties: { "connection.mtls": false } });
    s.requestHeaders([
      ...REQUEST,
      ["x_trustgate_peer_spiffe_id", FORGED_ID],
      ["x-trustgate_peer_cert_sha256", FORGED_FP],
      ["X_TRUSTGATE_PEER_MTLS", "true"],
    ]);
    expect(s.localResponse).toBeNull();
    expect(identityLike(s.request.headers.pairs())).toEqual([["x-trustgate-peer-mtls", "false"]]);
  });

  test("FIXED: underscore spelling next to the real header on an mTLS request (the application gets two values)", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders([...REQUEST, ["x_trustgate_peer_spiffe_id", FORGED_ID]]);
    expect(s.localResponse).toBeNull();
    expect(
      identityLike(s.request.headers.pairs()).filter(([k]) => k.replaceAll("_", "-") === "x-trustgate-peer-spiffe-id"),
    ).toEqual([["x-trustgate-peer-spiffe-id", ORDER_ID]]);
  });

  // FINDING. The filter exports no proxy_on_request_trailers (index.ts), so HTTP/2 (or HTTP/1 chunked) request
  // trailers pass untouched to the upstream; Envoy calls proxy_on_request_trailers only when the module exports it.
  // The README's "removes every inbound header a client could use to forge identity" does not exclude trailer fields,
  // and stacks that merge trailers into the header view (or log/propagate them) see a forged identity.
  test("FIXED: a forged x-trustgate-peer-spiffe-id in the request trailers is forwarded", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders(REQUEST, { endOfStream: false });
    expect(s.localResponse).toBeNull();
    s.requestBody("{}", { endOfStream: false });
    s.requestTrailers([
      ["x-trustgate-peer-spiffe-id", FORGED_ID],
      ["x-trustgate-peer-cert-sha256", FORGED_FP],
    ]);
    const forwarded = s.request.trailers.pairs().filter(([k]) => k.startsWith("x-trustgate-"));
    expect(forwarded, "forged identity trailers must be removed (or the stream refused)").toEqual([]);
  });

  // FINDING (configuration-dependent). With a custom headerPrefix the filter strips only that prefix
  // (config.ts finish(): prefixBytes = headerPrefix), so forged headers under trustgate's own names
  // (x-trustgate-peer-*, which README says "trustgate reads") reach ext_authz untouched. README item 1 promises
  // x-trustgate-* are removed; README "Identity" says trustgate believes them with identity.trustFilterHeaders
  // ("the sidecars run trustgate's wasm filter") — nothing warns that a custom prefix turns that into an open door.
  test('FIXED: with headerPrefix "x-mesh-", forged x-trustgate-peer-* headers pass through to ext_authz', () => {
    const host = startFilter({ headerPrefix: "x-mesh-" });
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders([
      ...REQUEST,
      ["x-trustgate-peer-spiffe-id", FORGED_ID],
      ["x-trustgate-peer-cert-sha256", FORGED_FP],
    ]);
    expect(s.localResponse).toBeNull();
    expect(s.request.headers.get("x-mesh-peer-spiffe-id")).toBe(ORDER_ID);
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
    expect(s.request.headers.get("x-trustgate-peer-cert-sha256")).toBeUndefined();
  });
});

// ======================================================================================== connection properties

describe("connection properties", () => {
  test("HOLDS: plaintext (connection.mtls false, or absent) is 401 and sets no identity", () => {
    for (const props of [{ "connection.mtls": false }, {}] as PropertyMap[]) {
      const s = startFilter().newHttpStream({ properties: props });
      s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", FORGED_ID]]);
      expect(s.localResponse?.statusCode).toBe(401);
      expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
    }
  });

  test("HOLDS: URI SAN/subject/digest present but connection.mtls missing → 401, never trusted", () => {
    const props = { ...mtlsPeer() } as Record<string, unknown>;
    delete props["connection.mtls"];
    const s = startFilter().newHttpStream({ properties: props as PropertyMap });
    s.requestHeaders(REQUEST);
    expect(s.localResponse?.statusCode).toBe(401);
  });

  test('HOLDS: odd connection.mtls encodings (string "true", int64 1, empty) fail closed (401)', () => {
    for (const v of ["true", prop.int(1), new Uint8Array(0), Uint8Array.of(1, 0)]) {
      const s = startFilter().newHttpStream({ properties: { ...mtlsPeer(), "connection.mtls": v } });
      s.requestHeaders(REQUEST);
      expect(s.localResponse?.statusCode).toBe(401);
    }
  });

  const BAD_SANS: Array<[string, string | Uint8Array]> = [
    ["empty", ""],
    ["https URI", "https://cluster.local/ns/a/sa/b"],
    ["upper-case scheme", "SPIFFE://cluster.local/ns/a/sa/b"],
    ["upper-case trust domain", "spiffe://Cluster.local/ns/a/sa/b"],
    ["port", "spiffe://cluster.local:443/ns/a/sa/b"],
    ["userinfo", "spiffe://u@cluster.local/ns/a/sa/b"],
    ["query", "spiffe://cluster.local/ns/a/sa/b?x=1"],
    ["fragment", "spiffe://cluster.local/ns/a/sa/b#x"],
    ["percent", "spiffe://cluster.local/ns/a/sa/%62"],
    ["trailing slash", "spiffe://cluster.local/ns/a/sa/b/"],
    ["dot segment", "spiffe://cluster.local/ns/a/../b"],
    ["no path", "spiffe://cluster.local"],
    ["trailing NUL", "spiffe://cluster.local/ns/a/sa/b\0"],
    ["embedded NUL", `spiffe://cluster.local/ns/a/sa/b\0${FORGED_ID}`],
    ["comma-joined second SAN", `spiffe://cluster.local/ns/a/sa/b,${FORGED_ID}`],
    ["2049 bytes", `spiffe://cluster.local/${"a".repeat(2049 - 23)}`],
    ["invalid UTF-8", Uint8Array.from([...Buffer.from("spiffe://cluster.local/ns/a/sa/"), 0xff, 0xfe, 0xc0])],
  ];
  test.each(BAD_SANS)("HOLDS: URI SAN %s → 403 local/invalid-identity, JSON body, no identity header", (_name, san) => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer(san) });
    s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", FORGED_ID]]);
    expect(s.localResponse?.statusCode).toBe(403);
    expect(denyBody(s.localResponse!.body).policy).toBe("local/invalid-identity");
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
    // requireMtls:false: forwarded, but with no SPIFFE ID (README) and the forgery gone.
    const lax = startFilter({ requireMtls: false }).newHttpStream({ properties: mtlsPeer(san) });
    lax.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", FORGED_ID]]);
    expect(lax.localResponse).toBeNull();
    expect(lax.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
  });

  test("HOLDS: exactly 2048 bytes is the longest accepted SAN", () => {
    const san = `spiffe://cluster.local/${"a".repeat(2048 - 23)}`;
    const s = startFilter().newHttpStream({ properties: mtlsPeer(san) });
    s.requestHeaders(REQUEST);
    expect(s.localResponse).toBeNull();
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBe(san);
  });

  test("HOLDS: a 1 MiB URI SAN of split multi-byte / invalid UTF-8: no trap, bounded valid-JSON deny", () => {
    const host = startFilter();
    for (const fill of [0xe2, 0xf0, 0x80, 0xff]) {
      const san = new Uint8Array(1 << 20).fill(fill);
      san.set(Buffer.from("spiffe://"), 0);
      const s = host.newHttpStream({ properties: mtlsPeer(san) });
      s.requestHeaders(REQUEST);
      expect(s.localResponse?.statusCode).toBe(403);
      expect(s.localResponse!.body.length).toBeLessThan(4096);
      expect(denyBody(s.localResponse!.body).decision).toBe("deny");
    }
    expect(host.failed).toBe(false);
  });

  test.each([
    ["63 hex", ORDER_DIGEST.slice(1)],
    ["65 hex", `${ORDER_DIGEST}0`],
    ["non-hex", `${ORDER_DIGEST.slice(0, 63)}g`],
    ["sha256: prefixed", `sha256:${ORDER_DIGEST}`],
    ["colon-separated", ORDER_DIGEST.match(/../g)!.join(":")],
    ["empty", ""],
  ])("HOLDS: digest %s → 403, never a fingerprint header", (_n, digest) => {
    const s = startFilter().newHttpStream({ properties: mtlsPeer(ORDER_ID, digest) });
    s.requestHeaders([...REQUEST, ["x-trustgate-peer-cert-sha256", FORGED_FP]]);
    expect(s.localResponse?.statusCode).toBe(403);
    expect(s.request.headers.get("x-trustgate-peer-cert-sha256")).toBeUndefined();
  });

  test("HOLDS: an upper-case digest is normalised, and still matches a revoked fingerprint", () => {
    const host = startFilter({ revocation: REVOCATION });
    answer(host, "200", JSON.stringify({ version: 2, spiffeIds: [], fingerprints: [`sha256:${ORDER_DIGEST}`] }));
    const s = host.newHttpStream({ properties: mtlsPeer(ORDER_ID, ORDER_DIGEST.toUpperCase()) });
    s.requestHeaders(REQUEST);
    expect(s.localResponse?.statusCode).toBe(403);
    expect(denyBody(s.localResponse!.body).policy).toBe("local/revoked");
  });

  test("HOLDS: subject with CR/LF/NUL/DEL is omitted; an empty subject is omitted; a forged one is never left behind", () => {
    for (const subject of ["CN=a\r\nx-trustgate-peer-spiffe-id: spiffe://evil/x", "CN=a\0", "CN=\x7f", ""]) {
      const s = startFilter().newHttpStream({ properties: mtlsPeer(ORDER_ID, ORDER_DIGEST, subject) });
      s.requestHeaders([...REQUEST, ["x-trustgate-peer-cert-subject", "CN=admin"]]);
      expect(s.localResponse).toBeNull();
      expect(s.request.headers.get("x-trustgate-peer-cert-subject")).toBeUndefined();
    }
  });

  test("HOLDS: trust-domain allow-list is exact (no suffix/prefix tricks)", () => {
    const host = startFilter({ allowedTrustDomains: ["cluster.local"] });
    for (const san of [
      "spiffe://cluster.local.evil.com/ns/a/sa/b",
      "spiffe://evil.cluster.local/ns/a/sa/b",
      "spiffe://cluster.locall/ns/a/sa/b",
    ]) {
      const s = host.newHttpStream({ properties: mtlsPeer(san) });
      s.requestHeaders(REQUEST);
      expect(s.localResponse?.statusCode).toBe(403);
      expect(denyBody(s.localResponse!.body).policy).toBe("local/trust-domain");
    }
  });
});

// ======================================================================================== host call failures

describe("host call failures", () => {
  test("HOLDS: unreadable request headers (pairs copy fails: INVALID_MEMORY_ACCESS) → 503 local/filter-error", () => {
    const original = GuestMemory.prototype.copyInPairs;
    GuestMemory.prototype.copyInPairs = () => false;
    try {
      const s = startFilter().newHttpStream({ properties: mtlsPeer() });
      s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", FORGED_ID]]);
      expect(s.localResponse?.statusCode).toBe(503);
      expect(s.localResponse?.failure).toBe(false);
    } finally {
      GuestMemory.prototype.copyInPairs = original;
    }
  });

  test("HOLDS: property reads failing (INVALID_MEMORY_ACCESS) fail closed (401), not open", () => {
    const host = startFilter();
    const original = GuestMemory.prototype.copyIn;
    GuestMemory.prototype.copyIn = () => false;
    try {
      const s = host.newHttpStream({ properties: mtlsPeer() });
      s.requestHeaders(REQUEST);
      expect(s.localResponse?.statusCode).toBe(401);
    } finally {
      GuestMemory.prototype.copyIn = original;
    }
  });

  // FINDING (low; Envoy's replaceHeaderMapValue only fails on a bad pointer or a nulled map). headers.ts setHeader()
  // discards replaceHeader()'s status, so a refused write of the identity header lets the request continue with
  // partial facts (mtls/fingerprint set, SPIFFE ID missing). wasm-filter/README.md "Memory and never trapping":
  // "Every host call's status is checked"; a refused removal is already answered 503 (STRIP_REFUSED) — a refused
  // set should be handled the same way.
  test("FIXED: a refused write of x-trustgate-peer-spiffe-id is ignored; the request is forwarded without it", () => {
    const original = GuestMemory.prototype.readString;
    GuestMemory.prototype.readString = function (ptr: number, len: number) {
      const s = original.call(this, ptr, len);
      return s === "x-trustgate-peer-spiffe-id" ? null : s; // → proxy_replace_header_map_value answers INVALID_MEMORY_ACCESS
    };
    try {
      const s = startFilter().newHttpStream({ properties: mtlsPeer() });
      s.requestHeaders(REQUEST);
      const forwardedWithoutIdentity =
        s.localResponse === null && s.request.headers.get("x-trustgate-peer-spiffe-id") === undefined;
      expect(
        forwardedWithoutIdentity,
        "a failed identity-header write must fail closed (503), as a failed removal does",
      ).toBe(false);
    } finally {
      GuestMemory.prototype.readString = original;
    }
  });
});

// ======================================================================================== revocation polling

describe("revocation polling", () => {
  test.each([
    ["500", "500", "oops"],
    ["garbage", "200", "<html>not json</html>"],
    ["empty 200", "200", ""],
    ["trailing data", "200", `${JSON.stringify({ version: 6, spiffeIds: [], fingerprints: [] })}x`],
    ["duplicate key", "200", '{"version":6,"spiffeIds":[],"spiffeIds":[],"fingerprints":[]}'],
    ["unknown key", "200", '{"version":6,"spiffeIds":[],"fingerprints":[],"x":1}'],
    ["float version", "200", '{"version":6.0,"spiffeIds":[],"fingerprints":[]}'],
    ["huge version", "200", '{"version":99999999999999999999,"spiffeIds":[],"fingerprints":[]}'],
    ["NUL in id", "200", '{"version":6,"spiffeIds":["spiffe://a/b\\u0000"],"fingerprints":[]}'],
    ["non-ASCII", "200", '{"version":6,"spiffeIds":["spiffe://a/\u00e9"],"fingerprints":[]}'],
    ["nesting 10,000", "200", `${"[".repeat(10000)}${"]".repeat(10000)}`],
    ["number of 1 MiB digits", "200", `{"version":${"9".repeat(1 << 20)},"spiffeIds":[],"fingerprints":[]}`],
    ["304 with a list", "304", ""],
  ])("HOLDS: %s answer → revoked identity stays denied", (_n, status, body) => {
    const host = withRevokedOrder();
    answer(host, status, body);
    expect(host.failed).toBe(false);
    expect(decide(host).localResponse?.statusCode).toBe(403);
  });

  test("HOLDS: reset/timeout keeps the list; one poll in flight; a stale token is ignored; requests never wait for a poll", () => {
    const host = withRevokedOrder();
    const slow = poll(host);
    host.tick();
    expect(host.httpCalls).toHaveLength(1); // still the slow one
    expect(decide(host).localResponse?.statusCode).toBe(403);
    expect(decide(host, mtlsPeer("spiffe://cluster.local/ns/a/sa/b")).localResponse).toBeNull();
    host.failHttpCall(slow.token);
    expect(decide(host).localResponse?.statusCode).toBe(403);
    const next = poll(host);
    expect(next.token).not.toBe(slow.token);
    expect(next.headers).toContainEqual(["if-none-match", '"5"']); // = authz-server's etag `"${version}"`
    host.respondHttpCall(next.token, { headers: [[":status", "304"]] });
    expect(decide(host).localResponse?.statusCode).toBe(403);
  });

  test("HOLDS: 304 before any list is a failure, not an empty list in force", () => {
    const host = startFilter({ revocation: REVOCATION });
    answer(host, "304");
    expect(host.metric("trustgate_filter_revocation_poll_failures_total")?.value).toBe(1n);
  });

  test("HOLDS (documented): a 200 with a lower version replaces the list (the version is a content digest)", () => {
    const host = withRevokedOrder();
    answer(host, "200", JSON.stringify({ version: 1, spiffeIds: [], fingerprints: [] }));
    expect(decide(host).localResponse).toBeNull();
  });

  test("HOLDS: a body over 4 MiB is refused without being read", () => {
    const host = withRevokedOrder();
    answer(host, "200", new Uint8Array(4 * 1024 * 1024 + 1).fill(0x20));
    expect(host.logMessages(LogLevel.Warn).at(-1)).toMatch(/body size 4194305/);
    expect(decide(host).localResponse?.statusCode).toBe(403);
  });

  // FINDING (crash). json.ts JsonParser.string() builds a string with `out += …` per escape sequence; with the
  // minimal runtime nothing is collected until the callback returns (gc.ts), so n escapes keep ~n² bytes of
  // intermediate strings alive. An 80 KB body — one string of 40,000 "\/" — exceeds Envoy's 1 GiB Wasm memory
  // (cpp-host v8.cc --wasm_max_mem_pages), the allocator traps in proxy_on_http_call_response, the VM fails, and with
  // fail_open:false every later request on that sidecar gets 503 wasm_fail_stream. wasm-filter/README.md: a malformed
  // body "is a poll failure … the last list stays in force"; "no callback can throw"; "sizes are bounded".
  // The same parser reads the plugin configuration (configure would trap the same way).
  test("FIXED: an 80 KB revocation answer with one string of 40,000 escapes traps the VM (then every request is 503)", () => {
    const host = withRevokedOrder();
    answer(host, "200", `{"version":6,"spiffeIds":["${"\\/".repeat(40000)}"],"fingerprints":[]}`);
    expect(host.failure).toBeNull();
    const s = decide(host, mtlsPeer("spiffe://cluster.local/ns/a/sa/b"));
    expect(s.localResponse?.details).not.toBe("wasm_fail_stream");
  }, 120_000);

  // FINDING (worker stall). json.ts object(): `v.get(key)` scans every earlier key for the duplicate check, so an
  // object with n keys costs O(n²) string compares before the "unknown key" rejection. Measured here: 10k keys
  // (120 KB) ≈ 1 s, 20k keys (240 KB) ≈ 2.7 s, 40k keys (480 KB) ≈ 35 s — all inside one proxy_on_http_call_response,
  // i.e. on an Envoy worker thread (no Wasm execution deadline): every connection of that worker stalls. A 4 MiB body
  // (~350k keys) would take hours. A valid 4 MiB list parses in ~0.4 s.
  test("FIXED: a 240 KB answer with a 20,000-key object takes seconds to reject (quadratic duplicate-key check)", () => {
    const host = withRevokedOrder();
    const keys = Array.from({ length: 20000 }, (_, i) => `"k${i.toString(36).padStart(6, "0")}":0`);
    const t = performance.now();
    answer(host, "200", `{"version":6,"spiffeIds":[],"fingerprints":[],"x":{${keys.join(",")}}}`);
    const ms = performance.now() - t;
    expect(decide(host).localResponse?.statusCode).toBe(403);
    expect(ms, `rejecting a 240 KB body took ${Math.round(ms)} ms`).toBeLessThan(250);
  }, 120_000);

  // FINDING (memory). The parser builds the whole tree before checking the shape, and each JsonValue eagerly allocates
  // two arrays (`items`, `keys`): a 4 MiB answer of "0,0,0,…" grows Wasm memory to ~900 MiB of Envoy's 1 GiB cap
  // (measured 14,529 pages; 14,762 while holding a maximal valid list), and Wasm memory never shrinks — per worker VM.
  // A maximal *valid* 4 MiB list needs ~134 MiB. README: "sizes are bounded" / "never an unbounded allocation".
  test("FIXED: a 4 MiB malformed answer leaves the VM holding >512 MiB of Wasm memory", () => {
    const host = withRevokedOrder();
    const head = '{"version":6,"spiffeIds":[';
    const n = Math.floor((4 * 1024 * 1024 - head.length - 30) / 2);
    answer(host, "200", `${head}${Array(n).fill("0").join(",")}],"fingerprints":[]}`);
    expect(host.failed).toBe(false);
    expect(decide(host).localResponse?.statusCode).toBe(403);
    expect(host.memoryPages * 64 * 1024, `${host.memoryPages} pages`).toBeLessThan(512 * 1024 * 1024);
  }, 180_000);
});
