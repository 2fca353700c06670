import { beforeAll, describe, expect, it } from "vitest";
import { type IssuedSvid, TestCa } from "../../../test/support/svid-ca.js";
import { type IdentitySettings, resolveCallerIdentity, spoofedIdentityHeaders } from "./caller-identity.js";
import { CertificateCache } from "./certificate-cache.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
let ca: TestCa;
let foreignCa: TestCa;
let order: IssuedSvid;
let payment: IssuedSvid;
let foreign: IssuedSvid;
let expired: IssuedSvid;
let future: IssuedSvid;
const certificates = new CertificateCache();

beforeAll(async () => {
  ca = await TestCa.create("cluster.local");
  foreignCa = await TestCa.create("evil.example");
  order = await ca.issue(ORDER, { subject: "C=US, O=SPIRE, CN=order" });
  payment = await ca.issue("spiffe://cluster.local/ns/services/sa/payment");
  foreign = await foreignCa.issue("spiffe://evil.example/ns/services/sa/order");
  expired = await ca.issue(ORDER, {
    notBefore: new Date(Date.now() - 7_200_000),
    notAfter: new Date(Date.now() - 60_000),
  });
  future = await ca.issue(ORDER, {
    notBefore: new Date(Date.now() + 60_000),
    notAfter: new Date(Date.now() + 7_200_000),
  });
});

const policy = (over: Partial<IdentitySettings> = {}): IdentitySettings => ({
  trustDomains: new Set(["cluster.local"]),
  trustFilterHeaders: false,
  ...over,
});

function resolve(
  inputs: { principal?: string; certificate?: string; headers?: Record<string, string> | null },
  p = policy(),
) {
  return resolveCallerIdentity(
    { principal: inputs.principal ?? "", certificate: inputs.certificate ?? "", headers: inputs.headers ?? {} },
    p,
    certificates,
    Date.now(),
  );
}

describe("resolveCallerIdentity", () => {
  it("is anonymous without principal, certificate or trusted headers", () => {
    expect(resolve({})).toEqual({ ok: true, identity: { spiffeId: null, fingerprint: "", subject: "", mtls: false } });
  });

  it("takes the identity from the principal alone", () => {
    const r = resolve({ principal: ORDER });
    expect(r).toMatchObject({
      ok: true,
      identity: { spiffeId: { uri: ORDER, trustDomain: "cluster.local" }, mtls: true, fingerprint: "" },
    });
  });

  it("adds fingerprint and subject from a certificate that agrees with the principal", () => {
    const r = resolve({ principal: ORDER, certificate: order.urlEncodedPem });
    expect(r).toMatchObject({
      ok: true,
      identity: { fingerprint: order.fingerprint, subject: "CN=order,O=SPIRE,C=US" },
    });
  });

  it("refuses a principal that disagrees with the certificate", () => {
    expect(resolve({ principal: ORDER, certificate: payment.urlEncodedPem })).toEqual({
      ok: false,
      reason: `peer principal "${ORDER}" does not match the certificate's SPIFFE ID "spiffe://cluster.local/ns/services/sa/payment"`,
    });
  });

  it("refuses expired and not-yet-valid certificates", () => {
    expect(resolve({ certificate: expired.urlEncodedPem })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^peer certificate rejected: certificate expired at /),
    });
    expect(resolve({ certificate: future.urlEncodedPem })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not valid before/),
    });
  });

  it("refuses a foreign trust domain, by principal and by certificate", () => {
    expect(resolve({ principal: "spiffe://evil.example/ns/services/sa/order" })).toEqual({
      ok: false,
      reason: 'trust domain "evil.example" is not allowed',
    });
    expect(resolve({ certificate: foreign.urlEncodedPem })).toEqual({
      ok: false,
      reason: 'trust domain "evil.example" is not allowed',
    });
    expect(resolve({ certificate: foreign.urlEncodedPem }, policy({ trustDomains: new Set() })).ok).toBe(true);
  });

  it("refuses a principal that is not a SPIFFE ID (Envoy falls back to DNS SAN or subject)", () => {
    expect(resolve({ principal: "order.services.svc.cluster.local" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("is not a valid SPIFFE ID: scheme is missing or invalid"),
    });
    expect(resolve({ principal: "spiffe://cluster.local" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("has no path"),
    });
  });

  it("refuses garbage in source.certificate", () => {
    expect(resolve({ principal: ORDER, certificate: "%%%not-pem" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("peer certificate rejected"),
    });
  });

  describe("wasm filter headers", () => {
    const headers = (over: Record<string, string> = {}) => ({
      "x-trustgate-peer-spiffe-id": ORDER,
      "x-trustgate-peer-cert-sha256": order.fingerprint,
      "x-trustgate-peer-cert-subject": "CN=order,O=SPIRE,C=US",
      "x-trustgate-peer-mtls": "true",
      ...over,
    });

    it("are ignored unless the sidecars are configured to run the filter", () => {
      expect(resolve({ headers: headers() })).toMatchObject({ ok: true, identity: { spiffeId: null } });
      expect(spoofedIdentityHeaders(headers())).toEqual([
        "x-trustgate-peer-spiffe-id",
        "x-trustgate-peer-cert-sha256",
        "x-trustgate-peer-cert-subject",
        "x-trustgate-peer-mtls",
      ]);
      expect(spoofedIdentityHeaders({ "x-other": "1" })).toBeNull();
      // Underscore spellings too: CGI-style stacks read them as the filter's names.
      expect(
        spoofedIdentityHeaders({
          x_trustgate_peer_spiffe_id: ORDER,
          "x-trustgate_peer_mtls": "true",
          x_trustgate: "1",
        }),
      ).toEqual(["x_trustgate_peer_spiffe_id", "x-trustgate_peer_mtls"]);
    });

    it("supply identity, fingerprint and subject when trusted (Istio sends no certificate)", () => {
      const r = resolve({ principal: ORDER, headers: headers() }, policy({ trustFilterHeaders: true }));
      expect(r).toMatchObject({
        ok: true,
        identity: { spiffeId: { uri: ORDER }, fingerprint: order.fingerprint, subject: "CN=order,O=SPIRE,C=US" },
      });
    });

    it("never grant an identity on a connection where Envoy reports no peer (a forgery the filter never saw)", () => {
      // In Istio a WasmPlugin runs after the CUSTOM ext_authz call: a plaintext caller's own header reaches trustgate.
      const trusted = policy({ trustFilterHeaders: true });
      expect(resolve({ headers: headers() }, trusted)).toEqual({
        ok: false,
        reason: expect.stringMatching(
          /wasm filter SPIFFE ID ".*" on a connection where Envoy reports no peer principal/,
        ),
      });
      // Only an explicit setting (the filter runs first, on another hop) accepts it.
      expect(
        resolve({ headers: headers() }, policy({ trustFilterHeaders: true, filterIdentityWithoutPeer: true })),
      ).toMatchObject({
        ok: true,
        identity: { spiffeId: { uri: ORDER } },
      });
      // A fingerprint alone never makes an identity either way.
      expect(resolve({ headers: { "x-trustgate-peer-cert-sha256": order.fingerprint } }, trusted)).toEqual({
        ok: false,
        reason: "certificate fingerprint without identity",
      });
    });

    it("must agree with the principal and the certificate", () => {
      const trusted = policy({ trustFilterHeaders: true });
      expect(
        resolve(
          { principal: ORDER, headers: headers({ "x-trustgate-peer-spiffe-id": "spiffe://cluster.local/ns/x/sa/y" }) },
          trusted,
        ),
      ).toMatchObject({
        ok: false,
        reason: expect.stringContaining("does not match the peer principal"),
      });
      expect(
        resolve(
          {
            certificate: order.urlEncodedPem,
            headers: headers({ "x-trustgate-peer-cert-sha256": payment.fingerprint }),
          },
          trusted,
        ),
      ).toEqual({ ok: false, reason: "wasm filter certificate fingerprint does not match the peer certificate" });
      expect(
        resolve({ principal: ORDER, headers: headers({ "x-trustgate-peer-cert-sha256": "sha256:ABC" }) }, trusted),
      ).toMatchObject({
        ok: false,
        reason: expect.stringContaining("is not sha256:<64 lowercase hex>"),
      });
    });
  });

  it("refuses identities and certificates revoked by an operator", () => {
    const revocations = {
      hasOperatorRevocations: true,
      identityRevocation: (id: string) => (id === ORDER ? { reason: "incident 42" } : undefined),
      fingerprintRevocation: (fp: string) => (fp === payment.fingerprint ? { reason: "key leaked" } : undefined),
    };
    expect(resolve({ principal: ORDER }, policy({ revocations }))).toEqual({
      ok: false,
      reason: `identity ${ORDER} is revoked by an operator: incident 42`,
    });
    expect(resolve({ certificate: payment.urlEncodedPem }, policy({ revocations }))).toEqual({
      ok: false,
      reason: `certificate ${payment.fingerprint} is revoked by an operator: key leaked`,
    });
  });
});
