import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestCa } from "../support/svid-ca.js";
import { certificateFacts, envoyPrincipal, escapeRfc2253Value, rfc2253, urlEncodedPem } from "./certificate-facts.js";
import { PKI_DIR } from "./repo.js";

function der(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

describe("certificate facts as Envoy reports them", () => {
  it("renders the pinned order certificate like payment.yaml pins it (RFC 2253, most specific RDN first)", () => {
    const facts = certificateFacts(der(readFileSync(join(PKI_DIR, "order.pem"), "utf8")));
    expect(facts.subject).toBe("CN=order.services.svc.cluster.local,O=trustgate demo,C=US");
    expect(`sha256:${facts.sha256}`).toBe("sha256:dde60084579f8d883daa3e2c286b746c9b71e224ffe9dfbf5a6d609962187df5");
    expect(facts.uriSans).toEqual(["spiffe://cluster.local/ns/services/sa/order"]);
    expect(envoyPrincipal(facts)).toBe("spiffe://cluster.local/ns/services/sa/order");
    expect(decodeURIComponent(urlEncodedPem(facts))).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("takes the principal from the first URI SAN, else the first DNS SAN, else the subject", async () => {
    const ca = await TestCa.create("cluster.local");
    const two = await ca.issue("spiffe://cluster.local/ns/a/sa/first", {
      extraUris: ["spiffe://cluster.local/ns/a/sa/second"],
      dnsNames: ["a.example"],
    });
    expect(envoyPrincipal(certificateFacts(der(two.certPem)))).toBe("spiffe://cluster.local/ns/a/sa/first");
    const dnsOnly = await ca.issue("", { dnsNames: ["db.data.svc"], subject: "CN=db" });
    expect(envoyPrincipal(certificateFacts(der(dnsOnly.certPem)))).toBe("db.data.svc");
    const subjectOnly = await ca.issue("", { subject: "C=US, O=x, CN=only-subject" });
    expect(envoyPrincipal(certificateFacts(der(subjectOnly.certPem)))).toBe("CN=only-subject,O=x,C=US");
  });

  it("escapes RFC 2253 special characters and joins multi-valued RDNs with +", () => {
    expect(escapeRfc2253Value('a,b+c"d\\e<f>g;h')).toBe('a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h');
    expect(escapeRfc2253Value("#lead and trail ")).toBe("\\#lead and trail\\ ");
    expect(escapeRfc2253Value(" x")).toBe("\\ x");
    expect(escapeRfc2253Value("bell\u0007")).toBe("bell\\07");
    expect(rfc2253([{ C: ["US"] }, { O: ["o"] }, { CN: ["a"], OU: ["b"] }])).toBe("CN=a+OU=b,O=o,C=US");
  });
});
