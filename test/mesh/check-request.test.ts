import { describe, expect, it } from "vitest";
import { upstreamType } from "../support/upstream-envoy.js";
import "@grpc/proto-loader"; // registers google/protobuf/descriptor.proto for the upstream protos
import type { CertificateFacts } from "./certificate-facts.js";
import { buildCheckRequest, joinedHeaders } from "./check-request.js";
import { connectionProperties } from "./connection.js";

const facts = (uri: string, subject: string): CertificateFacts => ({
  uriSans: [uri],
  dnsSans: [],
  subject,
  sha256: "00".repeat(32),
  pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
});

function connection(peer: CertificateFacts | null) {
  const info = {
    id: 1,
    source: { ip: "127.0.0.1", port: 41000 },
    destination: { ip: "127.0.0.1", port: 15006 },
    peer,
    local: facts("spiffe://cluster.local/ns/services/sa/payment", "CN=payment"),
    tlsVersion: "TLSv1.3",
    serverName: "",
  };
  return { ...info, properties: connectionProperties(info) };
}

const headers: Array<[string, string]> = [
  [":authority", "payment"],
  [":path", "/api/v1/payment/42?currency=EUR"],
  [":method", "POST"],
  [":scheme", "https"],
  ["x-request-id", "r-1"],
  ["accept", "a/b"],
  ["accept", "c/d"],
];

describe("CheckRequest as Envoy fills it", () => {
  it("joins repeated headers with a comma and keeps pseudo-headers", () => {
    expect(joinedHeaders(headers)).toMatchObject({ ":method": "POST", accept: "a/b,c/d", "x-request-id": "r-1" });
  });

  it("encodes with the upstream protos: principals, certificate, labels, path with query, context extensions", () => {
    const request = buildCheckRequest({
      connection: connection(facts("spiffe://cluster.local/ns/services/sa/order", "CN=order")),
      headers,
      streamId: "1234567890123",
      startedAtMs: 1_795_860_000_123.5,
      includePeerCertificate: true,
      labels: { app: "payment" },
      contextExtensions: { "trustgate.namespace": "services" },
      protocol: "HTTP/1.1",
    });
    const type = upstreamType("envoy.service.auth.v3.CheckRequest");
    expect(type.verify(request)).toBeNull();
    const decoded = type.toObject(type.decode(type.encode(type.fromObject(request)).finish()), { longs: Number }) as {
      attributes: Record<string, Record<string, unknown>>;
    };
    const { source, destination, request: req, contextExtensions } = decoded.attributes;
    expect(source).toMatchObject({
      principal: "spiffe://cluster.local/ns/services/sa/order",
      address: { socketAddress: { address: "127.0.0.1", portValue: 41000 } },
    });
    expect(decodeURIComponent(String(source!.certificate))).toContain("BEGIN CERTIFICATE");
    expect(destination).toMatchObject({
      principal: "spiffe://cluster.local/ns/services/sa/payment",
      labels: { app: "payment" },
    });
    expect(req).toMatchObject({
      time: { seconds: 1_795_860_000, nanos: 123_500_000 },
      http: {
        id: "1234567890123",
        method: "POST",
        path: "/api/v1/payment/42?currency=EUR",
        host: "payment",
        scheme: "https",
        protocol: "HTTP/1.1",
      },
    });
    expect(contextExtensions).toEqual({ "trustgate.namespace": "services" });
  });

  it("sends no principal and no certificate for a TLS connection without a client certificate", () => {
    const request = buildCheckRequest({
      connection: connection(null),
      headers,
      streamId: "1",
      startedAtMs: 0,
      includePeerCertificate: true,
      labels: {},
      contextExtensions: {},
      protocol: "HTTP/1.1",
    }) as { attributes: { source: Record<string, unknown> } };
    expect(request.attributes.source.principal).toBeUndefined();
    expect(request.attributes.source.certificate).toBeUndefined();
  });
});
