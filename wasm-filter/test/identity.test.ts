// Peer identity through the host on the compiled filter: mTLS facts become trusted headers,
// anything invalid or missing is denied locally with a JSON body that says why.
import { describe, expect, test } from "vitest";
import { HeadersAction, ProxyWasmHost } from "../../test/proxy-wasm-host/index.js";
import {
  denyBody,
  filterBytes,
  mtlsPeer,
  ORDER_DIGEST,
  ORDER_ID,
  ORDER_SUBJECT,
  REQUEST,
  startFilter,
} from "./harness.js";

const identityHeaders = (pairs: Array<[string, string]>) => pairs.filter(([k]) => k.startsWith("x-trustgate-"));

describe("with mTLS", () => {
  test("adds the four identity headers from the connection properties", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer() });
    expect(s.requestHeaders(REQUEST)).toBe(HeadersAction.Continue);
    expect(s.localResponse).toBeNull();
    expect(identityHeaders(s.request.headers.pairs())).toEqual([
      ["x-trustgate-peer-mtls", "true"],
      ["x-trustgate-peer-spiffe-id", ORDER_ID],
      ["x-trustgate-peer-cert-sha256", `sha256:${ORDER_DIGEST}`],
      ["x-trustgate-peer-cert-subject", ORDER_SUBJECT],
    ]);
    expect(host.metric("trustgate_filter_requests_total")?.value).toBe(1n);
    expect(host.metric("trustgate_filter_local_denies_total")?.value).toBe(0n);
  });

  test("lower-cases an upper-case hex digest", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer(ORDER_ID, ORDER_DIGEST.toUpperCase()) });
    s.requestHeaders(REQUEST);
    expect(s.request.headers.get("x-trustgate-peer-cert-sha256")).toBe(`sha256:${ORDER_DIGEST}`);
  });

  test("omits a subject with control characters instead of forwarding it", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer(ORDER_ID, ORDER_DIGEST, "CN=x\r\nx-evil: 1") });
    s.requestHeaders(REQUEST);
    expect(s.localResponse).toBeNull();
    expect(s.request.headers.get("x-trustgate-peer-cert-subject")).toBeUndefined();
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBe(ORDER_ID);
  });

  test("an allowed trust domain passes; a foreign one is denied 403 local/trust-domain", () => {
    const host = startFilter({ allowedTrustDomains: ["cluster.local", "partner.example"] });
    const ok = host.newHttpStream({ properties: mtlsPeer("spiffe://partner.example/ns/a/sa/b") });
    ok.requestHeaders(REQUEST);
    expect(ok.localResponse).toBeNull();

    const foreign = host.newHttpStream({ properties: mtlsPeer("spiffe://evil.example/ns/services/sa/order") });
    expect(foreign.requestHeaders(REQUEST)).toBe(HeadersAction.StopIteration);
    expect(foreign.localResponse?.statusCode).toBe(403);
    expect(foreign.localResponse?.details).toBe("trustgate_trust_domain");
    expect(foreign.localResponse?.headers.get("content-type")).toBe("application/json");
    expect(denyBody(foreign.localResponse!.body)).toEqual({
      decision: "deny",
      reason: 'trust domain "evil.example" of "spiffe://evil.example/ns/services/sa/order" is not allowed',
      policy: "local/trust-domain",
      rule: 0,
      decision_id: "req-1",
    });
    expect(host.metric("trustgate_filter_local_denies_trust_domain_total")?.value).toBe(1n);
  });

  test("denyForeignTrustDomain: false forwards a foreign identity for the service to judge", () => {
    const host = startFilter({ allowedTrustDomains: ["cluster.local"], denyForeignTrustDomain: false });
    const s = host.newHttpStream({ properties: mtlsPeer("spiffe://evil.example/ns/a/sa/b") });
    s.requestHeaders(REQUEST);
    expect(s.localResponse).toBeNull();
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBe("spiffe://evil.example/ns/a/sa/b");
  });

  test("an empty allow-list accepts any valid trust domain", () => {
    const host = startFilter({});
    const s = host.newHttpStream({ properties: mtlsPeer("spiffe://other.mesh/ns/a/sa/b") });
    s.requestHeaders(REQUEST);
    expect(s.localResponse).toBeNull();
  });
});

describe("invalid identities are never forwarded", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["upper-case trust domain", "spiffe://Cluster.Local/ns/a/sa/b", /trust domain has a character/],
    ["dot-dot segment", "spiffe://cluster.local/ns/../sa/b", /"\." or "\.\." segment/],
    ["dot segment", "spiffe://cluster.local/ns/./sa/b", /"\." or "\.\." segment/],
    ["query", "spiffe://cluster.local/ns/a/sa/b?x=1", /no query/],
    ["fragment", "spiffe://cluster.local/ns/a/sa/b#f", /no query, fragment/],
    ["percent-encoding", "spiffe://cluster.local/ns/a%2F/sa/b", /percent-encoding/],
    ["port", "spiffe://cluster.local:8443/ns/a", /port/],
    ["userinfo", "spiffe://user@cluster.local/ns/a", /userinfo/],
    ["no path", "spiffe://cluster.local", /has no path/],
    ["trailing slash", "spiffe://cluster.local/ns/a/", /ends with a slash/],
    ["empty segment", "spiffe://cluster.local/ns//a", /empty segment/],
    ["wrong scheme", "https://cluster.local/ns/a", /does not start with "spiffe:\/\/"/],
    ["upper-case scheme", "SPIFFE://cluster.local/ns/a", /does not start with/],
    ["empty trust domain", "spiffe:///ns/a", /trust domain is empty/],
    ["empty SAN", "", /it is empty/],
  ];

  test.each(cases)("%s → 403 local/invalid-identity", (_name, san, reason) => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer(san) });
    expect(s.requestHeaders(REQUEST)).toBe(HeadersAction.StopIteration);
    expect(s.localResponse?.statusCode).toBe(403);
    const body = denyBody(s.localResponse!.body);
    expect(body.policy).toBe("local/invalid-identity");
    expect(body.reason).toMatch(reason);
    expect(s.request.headers.get("x-trustgate-peer-spiffe-id")).toBeUndefined();
    expect(host.metric("trustgate_filter_local_denies_invalid_identity_total")?.value).toBe(1n);
  });

  test("a SPIFFE ID longer than 2048 bytes is invalid, and the reason quotes it truncated", () => {
    const host = startFilter();
    const san = `spiffe://cluster.local/${"a".repeat(2100)}`;
    const s = host.newHttpStream({ properties: mtlsPeer(san) });
    s.requestHeaders(REQUEST);
    const reason = String(denyBody(s.localResponse!.body).reason);
    expect(reason).toMatch(/longer than 2048 bytes/);
    expect(reason.length).toBeLessThan(400);
  });

  test("a certificate without URI SAN is denied (absent is not the same as empty)", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: mtlsPeer(null) });
    s.requestHeaders(REQUEST);
    expect(denyBody(s.localResponse!.body).reason).toBe("the peer certificate has no URI SAN (no SPIFFE ID)");
  });

  test("a missing or malformed digest is denied when mTLS is required", () => {
    for (const digest of [null, "abc", `${ORDER_DIGEST.slice(0, 63)}g`]) {
      const host = startFilter();
      const s = host.newHttpStream({ properties: mtlsPeer(ORDER_ID, digest) });
      s.requestHeaders(REQUEST);
      expect(denyBody(s.localResponse!.body).reason).toBe(
        "the peer certificate SHA-256 digest is missing or malformed",
      );
    }
  });

  test("requireMtls: false forwards the certificate facts but not the invalid ID", () => {
    const host = startFilter({ requireMtls: false });
    const s = host.newHttpStream({ properties: mtlsPeer("spiffe://Cluster.Local/ns/a/sa/b") });
    expect(s.requestHeaders(REQUEST)).toBe(HeadersAction.Continue);
    expect(s.localResponse).toBeNull();
    expect(identityHeaders(s.request.headers.pairs())).toEqual([
      ["x-trustgate-peer-mtls", "true"],
      ["x-trustgate-peer-cert-sha256", `sha256:${ORDER_DIGEST}`],
      ["x-trustgate-peer-cert-subject", ORDER_SUBJECT],
    ]);
  });
});

describe("without mTLS", () => {
  test("required (default): 401 local/require-mtls with a JSON reason", () => {
    const host = startFilter();
    const s = host.newHttpStream();
    expect(s.requestHeaders(REQUEST)).toBe(HeadersAction.StopIteration);
    expect(s.localResponse?.statusCode).toBe(401);
    expect(s.localResponse?.details).toBe("trustgate_require_mtls");
    expect(s.localResponse?.grpcStatus).toBeNull();
    expect(denyBody(s.localResponse!.body)).toEqual({
      decision: "deny",
      reason: "mutual TLS is required but the client presented no certificate",
      policy: "local/require-mtls",
      rule: 0,
      decision_id: "req-1",
    });
    expect(host.metric("trustgate_filter_mtls_missing_total")?.value).toBe(1n);
    expect(host.metric("trustgate_filter_local_denies_require_mtls_total")?.value).toBe(1n);
  });

  test("connection.mtls false (TLS without a client certificate) counts as missing", () => {
    const host = startFilter();
    const s = host.newHttpStream({ properties: { "connection.mtls": false } });
    s.requestHeaders(REQUEST);
    expect(s.localResponse?.statusCode).toBe(401);
  });

  test("not required: x-trustgate-peer-mtls: false and no identity headers, even if others are present", () => {
    const host = startFilter({ requireMtls: false });
    // A plain connection has no peer certificate properties; a stray URI SAN must not be trusted
    // without connection.mtls.
    const s = host.newHttpStream({ properties: { "connection.uri_san_peer_certificate": ORDER_ID } });
    expect(s.requestHeaders(REQUEST)).toBe(HeadersAction.Continue);
    expect(identityHeaders(s.request.headers.pairs())).toEqual([["x-trustgate-peer-mtls", "false"]]);
    expect(host.metric("trustgate_filter_mtls_missing_total")?.value).toBe(1n);
  });
});

describe("deny bodies and decision ids", () => {
  test("the decision id is generated when x-request-id is absent or not a plain token", () => {
    const host = startFilter();
    const ids = new Set<string>();
    for (const rid of [null, 'bad"id', "x".repeat(200)]) {
      const s = host.newHttpStream();
      s.requestHeaders(
        rid === null ? REQUEST.filter(([k]) => k !== "x-request-id") : [...REQUEST.slice(0, 4), ["x-request-id", rid]],
      );
      const id = String(denyBody(s.localResponse!.body).decision_id);
      expect(id).toMatch(/^tg-[0-9a-f]{16}-[0-9a-f]{8}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(3);
  });

  test("the local reply passes through the response path with content-length", () => {
    const host = startFilter();
    const s = host.newHttpStream();
    s.requestHeaders(REQUEST);
    const reply = s.localResponse!;
    expect(reply.headers.get(":status")).toBe("401");
    expect(reply.headers.get("content-length")).toBe(String(reply.body.length));
    expect(() => s.requestBody("x")).toThrow(/answered locally/);
    s.complete();
  });

  test("a stream whose root was never configured fails closed with 503", () => {
    const host = ProxyWasmHost.load(filterBytes(), {});
    host.startVm(); // no configure()
    const s = host.newHttpStream({ properties: mtlsPeer() });
    s.requestHeaders(REQUEST);
    expect(s.localResponse?.statusCode).toBe(503);
    expect(denyBody(s.localResponse!.body).policy).toBe("local/filter-error");
  });
});
