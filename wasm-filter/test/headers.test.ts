// Header hygiene: a client can never inject identity, whatever the casing or repetition.
import { expect, test } from "vitest";
import { mtlsPeer, ORDER_ID, REQUEST, startFilter } from "./harness.js";

const FORGED: Array<[string, string]> = [
  ["x-trustgate-peer-spiffe-id", "spiffe://cluster.local/ns/data/sa/database"],
  ["X-TrustGate-Peer-Cert-SHA256", "sha256:0000000000000000000000000000000000000000000000000000000000000000"],
  ["X-TRUSTGATE-PEER-MTLS", "true"],
  ["x-trustgate-peer-spiffe-id", "spiffe://cluster.local/ns/data/sa/cache"],
  ["x-trustgate-anything", "1"],
];

test("forged x-trustgate-* headers are removed (mixed case, repeated) and replaced by the real facts", () => {
  const host = startFilter();
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders([...REQUEST, ...FORGED, ["x-other", "kept"]]);
  expect(s.localResponse).toBeNull();
  const h = s.request.headers;
  expect(h.getAll("x-trustgate-peer-spiffe-id")).toEqual([ORDER_ID]);
  expect(h.getAll("x-trustgate-peer-cert-sha256")).toHaveLength(1);
  expect(h.getAll("x-trustgate-peer-cert-sha256")[0]).not.toMatch(/^sha256:0+$/);
  expect(h.get("x-trustgate-anything")).toBeUndefined();
  expect(h.get("x-other")).toBe("kept");
  expect(host.metric("trustgate_filter_spoofed_headers_removed_total")?.value).toBe(5n);
});

test("a host that refuses to remove a forged identity header gets a local deny, never a forwarded forgery", () => {
  // Only the spiffe-id header is refused: the filter must not carry on and set its own headers next to the forgery.
  const host = startFilter(
    {},
    { refuseHeaderRemoval: (_map, key) => (key === "x-trustgate-peer-spiffe-id" ? 2 : undefined) },
  );
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", "spiffe://cluster.local/ns/data/sa/database"]]);
  expect(s.localResponse?.statusCode).toBeGreaterThanOrEqual(400);
  expect(Buffer.from(s.localResponse!.body).toString()).toMatch(/could not remove a forged identity header/);
  expect(s.request.headers.getAll("x-trustgate-peer-spiffe-id")).toEqual([
    "spiffe://cluster.local/ns/data/sa/database",
  ]);
  // Without the refusal the same request passes with the real identity.
  const ok = startFilter().newHttpStream({ properties: mtlsPeer() });
  ok.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", "spiffe://cluster.local/ns/data/sa/database"]]);
  expect(ok.localResponse).toBeNull();
  expect(ok.request.headers.getAll("x-trustgate-peer-spiffe-id")).toEqual([ORDER_ID]);
});

test("forged headers are removed on denied requests too, and without mTLS when it is optional", () => {
  const denied = startFilter();
  const s1 = denied.newHttpStream();
  s1.requestHeaders([...REQUEST, ...FORGED]);
  expect(s1.localResponse?.statusCode).toBe(401);
  expect(s1.request.headers.pairs().some(([k]) => k.startsWith("x-trustgate-"))).toBe(false);

  const optional = startFilter({ requireMtls: false });
  const s2 = optional.newHttpStream();
  s2.requestHeaders([...REQUEST, ...FORGED]);
  expect(s2.request.headers.pairs().filter(([k]) => k.startsWith("x-trustgate-"))).toEqual([
    ["x-trustgate-peer-mtls", "false"],
  ]);
});

test("stripHeaders removes extra names (case-insensitive); x-forwarded-client-cert is kept by default", () => {
  const xfcc: [string, string] = ["x-forwarded-client-cert", "By=spiffe://x;URI=spiffe://evil/ns/a/sa/b"];
  const defaults = startFilter();
  const s1 = defaults.newHttpStream({ properties: mtlsPeer() });
  s1.requestHeaders([...REQUEST, xfcc]);
  expect(s1.request.headers.get("x-forwarded-client-cert")).toBe(xfcc[1]);

  const strict = startFilter({ stripHeaders: ["X-Forwarded-Client-Cert", "x-spiffe-id"] });
  const s2 = strict.newHttpStream({ properties: mtlsPeer() });
  s2.requestHeaders([...REQUEST, xfcc, ["X-Spiffe-Id", "spiffe://evil/ns/a/sa/b"]]);
  expect(s2.request.headers.get("x-forwarded-client-cert")).toBeUndefined();
  expect(s2.request.headers.get("x-spiffe-id")).toBeUndefined();
  expect(strict.metric("trustgate_filter_spoofed_headers_removed_total")?.value).toBe(2n);
});

test("a custom headerPrefix strips and sets headers under that prefix", () => {
  const host = startFilter({ headerPrefix: "X-Mesh-Id-" });
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders([...REQUEST, ["x-mesh-id-peer-spiffe-id", "spiffe://evil/ns/a/sa/b"]]);
  expect(s.request.headers.getAll("x-mesh-id-peer-spiffe-id")).toEqual([ORDER_ID]);
  expect(s.request.headers.get("x-mesh-id-peer-mtls")).toBe("true");
});

test("underscore spellings of the names are removed too (CGI-style stacks read _ as -)", () => {
  const host = startFilter({ requireMtls: false, stripHeaders: ["x-forwarded-client-cert"] });
  const s = host.newHttpStream();
  s.requestHeaders([
    ...REQUEST,
    ["x_trustgate_peer_spiffe_id", "spiffe://evil/ns/a/sa/b"],
    ["X-Trustgate_Peer-Mtls", "true"],
    ["x_forwarded_client_cert", "URI=spiffe://evil/ns/a/sa/b"],
    ["x_other", "kept"],
  ]);
  expect(
    s.request.headers.pairs().filter(([k]) => k !== "x_other" && !k.startsWith(":") && k !== "x-request-id"),
  ).toEqual([["x-trustgate-peer-mtls", "false"]]);
  expect(s.request.headers.get("x_other")).toBe("kept");
});

test("with a custom headerPrefix the default x-trustgate-* names are still removed (trustgate reads them)", () => {
  const host = startFilter({ headerPrefix: "x-mesh-" });
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders([...REQUEST, ["x-trustgate-peer-spiffe-id", "spiffe://evil/ns/a/sa/b"]]);
  expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
  expect(s.request.headers.get("x-mesh-peer-spiffe-id")).toBe(ORDER_ID);
});

test("forged identity fields in request trailers are removed; a refused removal there is a 503", () => {
  const host = startFilter();
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders(REQUEST, { endOfStream: false });
  s.requestBody("{}", { endOfStream: false });
  expect(s.requestTrailers([...FORGED, ["x-checksum", "abc"]])).toBe(0);
  expect(s.request.trailers.pairs()).toEqual([["x-checksum", "abc"]]);
  expect(host.metric("trustgate_filter_spoofed_headers_removed_total")?.value).toBe(5n); // header lines, as for headers

  const refusing = startFilter({}, { refuseHeaderRemoval: (map) => (map === 1 ? 2 : undefined) });
  const r = refusing.newHttpStream({ properties: mtlsPeer() });
  r.requestHeaders(REQUEST, { endOfStream: false });
  r.requestTrailers([["x-trustgate-peer-spiffe-id", "spiffe://evil/ns/a/sa/b"]]);
  expect(r.localResponse?.statusCode).toBe(503);
  expect(Buffer.from(r.localResponse!.body).toString()).toMatch(/could not remove a forged identity trailer/);
});

test("requests without forged headers count nothing as spoofed", () => {
  const host = startFilter();
  for (let i = 0; i < 3; i++) host.newHttpStream({ properties: mtlsPeer() }).requestHeaders(REQUEST);
  expect(host.metric("trustgate_filter_spoofed_headers_removed_total")?.value).toBe(0n);
  expect(host.metric("trustgate_filter_requests_total")?.value).toBe(3n);
});
