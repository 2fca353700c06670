import { describe, expect, it } from "vitest";
import { CertificateCache } from "../identity/certificate-cache.js";
import { quietRiskView } from "../model/risk-view.js";
import { buildCheckRequest, type RequestSpec } from "./build-check-request.js";
import type { CheckRequestMessage } from "./check-request.js";
import { type BuildEnvironment, fromCheckRequest } from "./from-check-request.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

function env(overrides: Partial<BuildEnvironment> = {}): BuildEnvironment {
  return {
    identity: { trustDomains: new Set(), trustFilterHeaders: false },
    certificates: new CertificateCache(),
    risk: quietRiskView,
    nowMs: Date.now(),
    ...overrides,
  };
}

function translate(spec: RequestSpec, e: BuildEnvironment = env()) {
  return fromCheckRequest(buildCheckRequest({ destination: { principal: PAYMENT }, ...spec }), e);
}

describe("CheckRequest → request model", () => {
  it("reads caller, destination and HTTP facts the way policies match them", () => {
    const r = translate({
      source: { principal: ORDER, ip: "10.1.2.3", port: 5555 },
      destination: { principal: PAYMENT, ip: "10.9.9.9", port: 8443, labels: { app: "payment" } },
      method: "POST",
      path: "/api//v1/%61pi?x=1",
      host: "Payment.Services:8443",
      headers: { "X-Request-Id": "abc" },
      sni: "payment.services",
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { source, destination, http, sni } = r.model;
    expect(source).toMatchObject({
      ip: "10.1.2.3",
      port: 5555,
      principal: ORDER,
      trustDomain: "cluster.local",
      mtls: true,
      certificateKnown: false,
    });
    expect(destination).toMatchObject({
      principal: PAYMENT,
      namespace: "services",
      port: 8443,
      labels: { app: "payment" },
    });
    expect(http).toMatchObject({
      method: "POST",
      path: "/api//v1/%61pi",
      target: "/api//v1/%61pi?x=1",
      host: "payment.services:8443",
    });
    expect(r.model.header("x-request-id")).toBe("abc");
    expect(sni).toBe("payment.services");
    expect(r.spoofedHeaders).toBeNull();
  });

  it("folds encode_raw_headers' header_map into the same lower-cased map, joining repeats", () => {
    const request = buildCheckRequest({ source: { principal: ORDER }, destination: { principal: PAYMENT } });
    const http = request.attributes!.request!.http!;
    http.headers = {};
    http.headerMap = {
      headers: [
        { key: "X-Tenant", value: "a" },
        { key: "x-tenant", rawValue: Buffer.from("b") },
      ],
    };
    const r = fromCheckRequest(request, env());
    expect(r.ok && r.model.header("x-tenant")).toBe("a,b");
  });

  it("drops and reports identity headers no trusted filter set", () => {
    const r = translate({ source: { principal: ORDER }, headers: { "x-trustgate-peer-spiffe-id": PAYMENT } });
    expect(r.spoofedHeaders).toEqual(["x-trustgate-peer-spiffe-id"]);
    expect(r.ok && r.model.header("x-trustgate-peer-spiffe-id")).toBeUndefined();
  });

  it("takes a trusted filter's certificate facts as facts", () => {
    const fingerprint = `sha256:${"ab".repeat(32)}`;
    const r = translate(
      { source: { principal: ORDER, fingerprint, subject: "CN=order" } },
      env({ identity: { trustDomains: new Set(), trustFilterHeaders: true } }),
    );
    expect(r.ok && r.model.source).toMatchObject({
      certificateFingerprint: fingerprint,
      certificateSubject: "CN=order",
    });
  });

  it("takes the destination namespace from the trustgate.namespace hint when the principal has none", () => {
    const r = translate({ destination: { namespace: "shop", labels: { app: "web" } } });
    expect(r.ok && r.model.destination).toMatchObject({ principal: "", namespace: "shop", labels: { app: "web" } });
  });

  it("merges labels: inventory < destination.labels < trustgate.label.* hints", () => {
    const r = translate(
      {
        destination: { principal: PAYMENT, labels: { app: "payment", tier: "backend" } },
        contextExtensions: { "trustgate.label.tier": "edge" },
      },
      env({ labelsOf: () => ({ app: "inventory", team: "pay" }) }),
    );
    expect(r.ok && r.model.destination.labels).toEqual({ app: "payment", tier: "edge", team: "pay" });
  });

  it("keeps labels named like JavaScript built-ins from every source (a selector on them must still match)", () => {
    const r = translate(
      {
        destination: { principal: PAYMENT, labels: JSON.parse('{"constructor": "c"}') },
        contextExtensions: { "trustgate.label.__proto__": "p", "trustgate.label.toString": "t" },
      },
      env({ labelsOf: () => JSON.parse('{"__proto__": "inventory", "hasOwnProperty": "h"}') }),
    );
    const labels = r.ok ? r.model.destination.labels : {};
    expect(Object.getPrototypeOf(labels)).toBeNull();
    expect(Object.entries(labels).sort()).toEqual([
      ["__proto__", "p"],
      ["constructor", "c"],
      ["hasOwnProperty", "h"],
      ["toString", "t"],
    ]);
  });

  it("keeps an absent header apart from an empty one", () => {
    const r = translate({ headers: { "x-empty": "" } });
    expect(r.ok && r.model.header("x-empty")).toBe("");
    expect(r.ok && r.model.header("x-absent")).toBeUndefined();
  });

  it("reads the host ASCII-lower-cased only (the Kelvin sign stays what it is)", () => {
    const r = translate({ host: "API.Example.\u212Aom" });
    expect(r.ok && r.model.http?.host).toBe("api.example.\u212Aom");
  });

  it("knows the SNI only when the CheckRequest carries a TLS session", () => {
    const without = translate({});
    expect(without.ok && without.model.sni).toBeNull();
    const empty = translate({ sni: "" });
    expect(empty.ok && empty.model.sni).toBe("");
  });

  it("knows the certificate facts of an mTLS caller only when something reported them", () => {
    const plaintext = translate({});
    expect(plaintext.ok && plaintext.model.source.certificateKnown).toBe(true);
    const unreported = translate({ source: { principal: ORDER } });
    expect(unreported.ok && unreported.model.source.certificateKnown).toBe(false);
  });

  it("reads verified JWT payloads from the forwarded jwt_authn metadata, whatever their key", () => {
    const request = buildCheckRequest({ destination: { principal: PAYMENT } });
    request.attributes!.metadataContext = {
      filterMetadata: {
        "envoy.filters.http.jwt_authn": {
          fields: {
            my_payload: {
              structValue: {
                fields: {
                  iss: { stringValue: "https://issuer" },
                  groups: { listValue: { values: [{ stringValue: "a" }, { numberValue: 2 }] } },
                  constructor: { stringValue: "just a claim" },
                },
              },
            },
            not_a_payload: { stringValue: "x" },
          },
        },
      },
    };
    const r = fromCheckRequest(request, env());
    expect(r.ok && r.model.jwt?.payloads).toHaveLength(1);
    const payload = r.ok ? r.model.jwt!.payloads[0]! : {};
    expect(Object.getPrototypeOf(payload)).toBeNull();
    expect({ ...payload }).toEqual({ iss: "https://issuer", groups: ["a", 2], constructor: "just a claim" });
  });

  it("restricts JWT payloads to the configured keys", () => {
    const spec = { destination: { principal: PAYMENT }, jwt: { iss: "i", sub: "s" } };
    const settings = { numTrustedProxies: 0, jwt: { enabled: true, payloadKeys: ["other"] } };
    const r = fromCheckRequest(buildCheckRequest(spec), env({ request: settings }));
    expect(r.ok && r.model.jwt).toEqual({ payloads: [] });
  });

  it("leaves JWT facts unknown unless Envoy is said to forward them, and empty when it does", () => {
    const unknown = translate({});
    expect(unknown.ok && unknown.model.jwt).toBeNull();
    const r = translate({}, env({ request: { numTrustedProxies: 0, jwt: { enabled: true, payloadKeys: [] } } }));
    expect(r.ok && r.model.jwt).toEqual({ payloads: [] });
  });

  it("refuses metadata nested deeper than the limit instead of walking it", () => {
    let value: Record<string, unknown> = { leaf: "x" };
    for (let i = 0; i < 40; i++) value = { nested: value };
    const r = translate({ jwt: value });
    expect(!r.ok && r.rejection).toMatchObject({ kind: "malformed" });
  });

  it("works out remote.ip from x-forwarded-for with the configured number of trusted proxies", () => {
    const spec = { source: { ip: "10.0.0.5" }, headers: { "x-forwarded-for": "56.5.6.7, 72.9.5.6, 98.1.2.3" } };
    const at = (n: number) => {
      const r = translate(spec, env({ request: { numTrustedProxies: n, jwt: { enabled: false, payloadKeys: [] } } }));
      return r.ok ? r.model.remoteIp() : "";
    };
    expect(at(0)).toBe("98.1.2.3");
    expect(at(1)).toBe("72.9.5.6");
    expect(at(2)).toBe("56.5.6.7");
    expect(at(3)).toBe("10.0.0.5");
    const tcp = translate({ source: { ip: "10.0.0.5" }, tcp: true });
    expect(tcp.ok && tcp.model.remoteIp()).toBe("10.0.0.5");
  });

  it("decides TCP checks on identity alone (no HTTP facts)", () => {
    const r = translate({ source: { principal: ORDER }, tcp: true });
    expect(r.ok && r.model.http).toBeNull();
  });

  it.each<[string, CheckRequestMessage | RequestSpec, string, string]>([
    ["no attributes", { attributes: null } as CheckRequestMessage, "malformed", "no attributes"],
    ["a path that is refused", { path: "/a/../admin" }, "malformed", "'.' or '..' segment"],
    ["a path over 8 KiB", { path: `/${"a".repeat(9000)}` }, "malformed", "too long"],
    ["no method", { method: "" }, "malformed", "no method"],
    ["an invalid principal", { source: { principal: "spiffe://Bad Domain/x" } }, "identity", "not a valid SPIFFE ID"],
    ["an unknown destination", { destination: {} }, "destination", "destination workload unknown"],
    // Not an address Envoy writes: it would match no ipBlocks, so a DENY on the caller's range would miss it.
    ["a source address with leading zeros", { source: { ip: "010.001.002.003" } }, "malformed", "source address"],
    ["a source address with a zone", { source: { ip: "10.1.2.3%eth0" } }, "malformed", "not an IP address"],
    [
      "a destination address that is no IP",
      { destination: { principal: PAYMENT, ip: "payment.local" } },
      "malformed",
      "destination address",
    ],
  ])("refuses %s", (_name, input, kind, reason) => {
    const r =
      "attributes" in input ? fromCheckRequest(input as CheckRequestMessage, env()) : translate(input as RequestSpec);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejection.kind).toBe(kind);
      expect(r.rejection.reason).toContain(reason);
    }
  });

  it("refuses a caller outside the allowed trust domains", () => {
    const r = translate(
      { source: { principal: "spiffe://evil.example/ns/x/sa/y" } },
      env({ identity: { trustDomains: new Set(["cluster.local"]), trustFilterHeaders: false } }),
    );
    expect(!r.ok && r.rejection).toMatchObject({ kind: "identity", principal: "spiffe://evil.example/ns/x/sa/y" });
  });
});
