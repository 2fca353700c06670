import { describe, expect, it } from "vitest";
import { encodeProperty, type PropertyValue } from "../proxy-wasm-host/index.js";
import type { CertificateFacts } from "./certificate-facts.js";
import { connectionProperties } from "./connection.js";

/** The int64 a property encodes to (8 bytes little-endian), as the Wasm module reads it. */
function decodeProperty(value: PropertyValue): bigint {
  const bytes = encodeProperty(value);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigInt64(0, true);
}

const local: CertificateFacts = {
  uriSans: ["spiffe://cluster.local/ns/services/sa/payment"],
  dnsSans: [],
  subject: "CN=payment.services.svc.cluster.local,O=trustgate demo,C=US",
  sha256: "ab".repeat(32),
  pem: "",
};
const base = {
  id: 7,
  source: { ip: "127.0.0.1", port: 40000 },
  destination: { ip: "127.0.0.1", port: 15006 },
  local,
  tlsVersion: "TLSv1.3",
  serverName: "",
};

describe("Wasm connection properties", () => {
  it("exposes the peer's first URI SAN, digest and subject on an mTLS connection", () => {
    const peer: CertificateFacts = {
      uriSans: ["spiffe://cluster.local/ns/services/sa/order", "spiffe://cluster.local/ns/x/sa/y"],
      dnsSans: ["order.services.svc"],
      subject: "CN=order",
      sha256: "cd".repeat(32),
      pem: "",
    };
    const p = connectionProperties({ ...base, peer });
    expect(p["connection.mtls"]).toBe(true);
    expect(p["connection.uri_san_peer_certificate"]).toBe("spiffe://cluster.local/ns/services/sa/order");
    expect(p["connection.dns_san_peer_certificate"]).toBe("order.services.svc");
    expect(p["connection.sha256_peer_certificate_digest"]).toBe("cd".repeat(32));
    expect(p["connection.subject_peer_certificate"]).toBe("CN=order");
    expect(p["connection.uri_san_local_certificate"]).toBe("spiffe://cluster.local/ns/services/sa/payment");
    expect(p["source.address"]).toBe("127.0.0.1:40000");
    expect(decodeProperty(p["source.port"]!)).toBe(40000n);
  });

  it("leaves SANs and the digest absent (not empty) without a client certificate", () => {
    const p = connectionProperties({ ...base, peer: null });
    expect(p["connection.mtls"]).toBe(false);
    for (const key of [
      "connection.uri_san_peer_certificate",
      "connection.dns_san_peer_certificate",
      "connection.sha256_peer_certificate_digest",
    ]) {
      expect(Object.hasOwn(p, key)).toBe(false);
    }
    // Envoy reports the (empty) subject string for any TLS connection.
    expect(p["connection.subject_peer_certificate"]).toBe("");
  });
});
