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
      principalBody: "cluster.local/ns/services/sa/order",
      trustDomain: "cluster.local",
      namespace: "services",
      serviceAccount: "services/order",
      mtls: true,
    });
    expect(destination).toMatchObject({
      principal: PAYMENT,
      namespace: "services",
      port: 8443,
      labels: { app: "payment" },
    });
    expect(http).toMatchObject({
      method: "POST",
      path: "/api/v1/api",
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
    expect(r.ok && r.model.header("x-trustgate-peer-spiffe-id")).toBe("");
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
