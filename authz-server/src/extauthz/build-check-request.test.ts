import { describe, expect, it } from "vitest";
import { buildCheckRequest } from "./build-check-request.js";
import { checkCodec } from "./codec.js";

describe("the CheckRequest builder", () => {
  it("fills what Envoy fills: addresses, principals, pseudo-headers, lower-cased header names", () => {
    const r = buildCheckRequest({
      source: { principal: "spiffe://cluster.local/ns/a/sa/b", ip: "10.0.0.7", port: 1234 },
      destination: { principal: "spiffe://cluster.local/ns/c/sa/d", labels: { app: "d" } },
      method: "PUT",
      path: "/x?y=1",
      host: "d.c",
      headers: { "X-Trace": "1" },
    });
    const a = r.attributes!;
    expect(a.source).toMatchObject({
      principal: "spiffe://cluster.local/ns/a/sa/b",
      address: { socketAddress: { address: "10.0.0.7", portValue: 1234 } },
    });
    expect(a.destination).toMatchObject({ principal: "spiffe://cluster.local/ns/c/sa/d", labels: { app: "d" } });
    expect(a.request?.http).toMatchObject({
      method: "PUT",
      path: "/x?y=1",
      host: "d.c",
      headers: { ":method": "PUT", ":path": "/x?y=1", ":authority": "d.c", ":scheme": "http", "x-trace": "1" },
    });
  });

  it("URL-encodes a PEM certificate, states filter facts as the filter's headers, and sends namespace hints", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nAAA=\n-----END CERTIFICATE-----\n";
    const fingerprint = `sha256:${"0".repeat(64)}`;
    const r = buildCheckRequest({ source: { certificate: pem, fingerprint }, destination: { namespace: "shop" } });
    expect(r.attributes!.source!.certificate).toBe(encodeURIComponent(pem));
    expect(r.attributes!.request!.http!.headers!["x-trustgate-peer-cert-sha256"]).toBe(fingerprint);
    expect(r.attributes!.contextExtensions).toEqual({ "trustgate.namespace": "shop" });
  });

  it("builds a TCP check without any HTTP request", () => {
    expect(buildCheckRequest({ tcp: true }).attributes!.request).toBeNull();
  });

  it("produces a message the wire codec round-trips", () => {
    const codec = checkCodec();
    const request = buildCheckRequest({
      source: { principal: "spiffe://cluster.local/ns/a/sa/b" },
      destination: { principal: "spiffe://cluster.local/ns/c/sa/d" },
      requestId: "42",
      protocol: "HTTP/2",
      size: 10,
      time: { seconds: 1, nanos: 2 },
    });
    const decoded = codec.decodeRequest(codec.encodeRequest(request));
    expect(decoded.attributes?.request?.http).toMatchObject({ id: "42", protocol: "HTTP/2", method: "GET", path: "/" });
    expect(decoded.attributes?.source?.principal).toBe("spiffe://cluster.local/ns/a/sa/b");
  });
});
