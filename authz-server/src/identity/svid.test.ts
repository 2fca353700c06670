import { beforeAll, describe, expect, it } from "vitest";
import { type IssuedSvid, TestCa } from "../../../test/support/svid-ca.js";
import { CertificateCache } from "./certificate-cache.js";
import { formatRfc2253 } from "./distinguished-name.js";
import { parseSvidCertificate, validityError } from "./svid.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
let ca: TestCa;
let order: IssuedSvid;

beforeAll(async () => {
  ca = await TestCa.create("cluster.local");
  order = await ca.issue(ORDER, { subject: "C=US, O=SPIRE, CN=order" });
});

describe("parseSvidCertificate", () => {
  it("extracts the SPIFFE ID, fingerprint, RFC 2253 subject and validity of a valid SVID", () => {
    const result = parseSvidCertificate(order.urlEncodedPem);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.facts.spiffeId.uri).toBe(ORDER);
    expect(result.facts.fingerprint).toBe(order.fingerprint);
    expect(result.facts.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.facts.subject).toBe("CN=order,O=SPIRE,C=US");
    expect(result.facts.notAfterMs).toBe(order.notAfter.getTime() - (order.notAfter.getTime() % 1000));
    expect(validityError(result.facts, Date.now())).toBeNull();
  });

  it("accepts a certificate without subject (SAN critical) and reports an empty subject", async () => {
    const svid = await ca.issue(ORDER);
    const result = parseSvidCertificate(svid.urlEncodedPem);
    expect(result).toMatchObject({ ok: true, facts: { subject: "" } });
  });

  it("rejects two URI SANs", async () => {
    const svid = await ca.issue(ORDER, { extraUris: ["spiffe://cluster.local/ns/services/sa/payment"] });
    expect(parseSvidCertificate(svid.urlEncodedPem)).toEqual({
      ok: false,
      error: "certificate contains 2 URI SANs; an X.509-SVID has exactly one",
    });
  });

  it("rejects a CA certificate used as a leaf", async () => {
    const svid = await ca.issue(ORDER, { ca: true });
    expect(parseSvidCertificate(svid.urlEncodedPem)).toMatchObject({ ok: false, error: expect.stringContaining("CA") });
  });

  it("rejects keyCertSign and cRLSign on a leaf, and a leaf without digitalSignature", async () => {
    const certSign = await ca.issue(ORDER, { keyUsage: 1 | 32 });
    expect(parseSvidCertificate(certSign.urlEncodedPem)).toMatchObject({
      error: expect.stringContaining("keyCertSign"),
    });
    const crlSign = await ca.issue(ORDER, { keyUsage: 1 | 64 });
    expect(parseSvidCertificate(crlSign.urlEncodedPem)).toMatchObject({ error: expect.stringContaining("cRLSign") });
    const noSig = await ca.issue(ORDER, { keyUsage: 4 });
    expect(parseSvidCertificate(noSig.urlEncodedPem)).toMatchObject({
      error: expect.stringContaining("digitalSignature"),
    });
  });

  it("rejects a certificate without URI SAN, with a non-SPIFFE URI, or with a root-path ID", async () => {
    const dnsOnly = await ca.issue("", { subject: "CN=x", dnsNames: ["order.services.svc"] });
    expect(parseSvidCertificate(dnsOnly.urlEncodedPem)).toEqual({
      ok: false,
      error: "certificate contains no URI SAN",
    });
    const https = await ca.issue("https://cluster.local/ns/a/sa/b");
    expect(parseSvidCertificate(https.urlEncodedPem)).toMatchObject({
      error: expect.stringContaining("not a valid SPIFFE ID: scheme is missing or invalid"),
    });
    const root = await ca.issue("spiffe://cluster.local");
    expect(parseSvidCertificate(root.urlEncodedPem)).toMatchObject({ error: expect.stringContaining("non-root path") });
  });

  it("reports expired and not-yet-valid certificates", async () => {
    const expired = await ca.issue(ORDER, {
      notBefore: new Date(Date.now() - 7_200_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    const parsedExpired = parseSvidCertificate(expired.urlEncodedPem);
    expect(parsedExpired.ok).toBe(true);
    if (parsedExpired.ok) expect(validityError(parsedExpired.facts, Date.now())).toMatch(/^certificate expired at /);

    const future = await ca.issue(ORDER, {
      notBefore: new Date(Date.now() + 3_600_000),
      notAfter: new Date(Date.now() + 7_200_000),
    });
    const parsedFuture = parseSvidCertificate(future.urlEncodedPem);
    if (parsedFuture.ok)
      expect(validityError(parsedFuture.facts, Date.now())).toMatch(/^certificate is not valid before /);
  });

  it("rejects garbage, truncated PEM, bad URL encoding and chains", () => {
    expect(parseSvidCertificate("garbage")).toEqual({ ok: false, error: "certificate is not PEM encoded" });
    expect(parseSvidCertificate("%E0%A4%A")).toEqual({ ok: false, error: "certificate is not valid URL-encoded PEM" });
    const truncated = encodeURIComponent(
      `-----BEGIN CERTIFICATE-----\nMIIBrTCCAVOgAwIBAgIBATAK\n-----END CERTIFICATE-----\n`,
    );
    expect(parseSvidCertificate(truncated)).toMatchObject({
      ok: false,
      error: expect.stringContaining("cannot be parsed"),
    });
    const chain = encodeURIComponent(`${order.certPem}\n${ca.certPem}\n`);
    expect(parseSvidCertificate(chain)).toEqual({ ok: false, error: "expected exactly one certificate, got a chain" });
    expect(parseSvidCertificate("x".repeat(60_000))).toEqual({ ok: false, error: "certificate is too large" });
  });
});

describe("CertificateCache", () => {
  it("parses once per distinct certificate and caches failures too", () => {
    const cache = new CertificateCache(2);
    const a = cache.get(order.urlEncodedPem);
    expect(cache.get(order.urlEncodedPem)).toBe(a);
    const bad = cache.get("garbage");
    expect(cache.get("garbage")).toBe(bad);
    expect(cache.size).toBe(2);
  });
});

describe("formatRfc2253", () => {
  it("reverses RDNs, joins multi-valued RDNs with + and escapes specials", () => {
    expect(formatRfc2253([{ C: ["US"] }, { O: ["Acme, Inc."] }, { CN: ["a+b"], OU: [" lead"] }])).toBe(
      "CN=a\\+b+OU=\\ lead,O=Acme\\, Inc.,C=US",
    );
    expect(formatRfc2253([])).toBe("");
  });
});
