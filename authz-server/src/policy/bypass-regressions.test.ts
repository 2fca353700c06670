/**
 * Regressions for confirmed wrong ALLOWs and crashes (each failed on the code before the fix): `;` path parameters
 * and trailing-dot hosts slipping past DENY rules, ALLOW rules matching more than Istio, and `when` keys named like
 * JavaScript built-ins.
 */
import { describe, expect, it } from "vitest";
import { compileYaml, model, policySet } from "../../test/support/fixtures.js";
import { evaluate } from "./evaluate.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";

const head = (name: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: services}
`;

const adversarial = `${head("deny")}spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*", "/api/internal/*"]}}]
${head("deny-host")}spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: ["admin.internal"]}}]
${head("allow")}spec:
  rules:
  - to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
`;

function decide(yaml: string, request: Parameters<typeof model>[0]) {
  return evaluate(policySet(yaml), model({ principal: ORDER, ...request })).decision;
}

describe("';' path parameters and dot segments do not slip past DENY path rules", () => {
  it.each(["/api/..;/admin/secret", "/api/internal;/x", "/api/%2e%2e;/admin/x", "/api/.;/x"])(
    "%s is denied",
    (path) => {
      let allowed: boolean;
      try {
        allowed = decide(adversarial, { path, host: "api.internal" }).allowed;
      } catch {
        allowed = false; // refused before evaluation: a deny
      }
      expect(allowed).toBe(false);
    },
  );

  it("the same ALLOW still allows an ordinary path", () => {
    expect(decide(adversarial, { path: "/api/orders", host: "api.internal" }).allowed).toBe(true);
  });
});

describe("a trailing slash does not slip past a DENY on the path without it", () => {
  const exactOnly = `${head("deny-exact")}spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/reports/export"]}}]
${head("allow")}spec:
  rules:
  - to: [{operation: {methods: [GET], paths: ["/*"]}}]
`;
  // Express (strict routing off, its default), Rails and Spring MVC before 6 serve these from the /admin handler.
  it.each(["/admin/", "/ADMIN/", "/admin//", "/admin;x/", "/reports/export/"])("%s is denied", (path) => {
    expect(decide(exactOnly, { path, host: "api.internal" }).allowed).toBe(false);
  });

  it("paths the DENY does not name are still allowed, and a DENY on /admin/* still leaves /admin to Istio's reading", () => {
    expect(decide(exactOnly, { path: "/admin/x", host: "api.internal" }).allowed).toBe(true);
    expect(decide(exactOnly, { path: "/reports/", host: "api.internal" }).allowed).toBe(true);
    expect(decide(exactOnly, { path: "/", host: "api.internal" }).allowed).toBe(true);
    const prefixOnly = exactOnly.replace('["/admin", "/reports/export"]', '["/admin/*"]');
    expect(decide(prefixOnly, { path: "/admin", host: "api.internal" }).allowed).toBe(true);
    expect(decide(prefixOnly, { path: "/admin/", host: "api.internal" }).allowed).toBe(false);
  });
});

describe("another letter case of the method does not slip past a DENY on methods", () => {
  const denyDelete = `${head("deny-delete")}spec:
  action: DENY
  rules:
  - to: [{operation: {methods: [DELETE]}}]
${head("allow")}spec:
  rules:
  - {}
`;
  // HTTP/2 does not case-check :method; Django's class-based views dispatch on request.method.lower().
  it.each(["DELETE", "delete", "Delete", "dELETE"])("%s is denied", (method) => {
    expect(decide(denyDelete, { method, path: "/api/x", host: "api.internal" }).allowed).toBe(false);
  });

  it("other methods stay allowed, and notMethods keeps Istio's exact reading", () => {
    for (const method of ["GET", "DELETED", "POST"]) {
      expect(decide(denyDelete, { method, path: "/api/x", host: "api.internal" }).allowed, method).toBe(true);
    }
    const allButGet = denyDelete.replace("methods: [DELETE]", "notMethods: [GET]");
    expect(decide(allButGet, { method: "GET", path: "/api/x", host: "api.internal" }).allowed).toBe(true);
    expect(decide(allButGet, { method: "get", path: "/api/x", host: "api.internal" }).allowed).toBe(false);
  });
});

describe("an IPv4-mapped IPv6 caller address does not slip past a DENY on its IPv4 range", () => {
  const denyRange = `${head("deny-range")}spec:
  action: DENY
  rules:
  - from: [{source: {ipBlocks: ["10.1.0.0/16", "192.168.1.5"]}}]
${head("allow")}spec:
  rules:
  - {}
`;
  it.each(["10.1.2.3", "::ffff:10.1.2.3", "::ffff:a01:203", "0:0:0:0:0:ffff:a01:203", "::ffff:192.168.1.5"])(
    "%s is denied",
    (sourceIp) => {
      expect(decide(denyRange, { sourceIp, path: "/x", host: "api.internal" }).allowed).toBe(false);
    },
  );

  it("other addresses stay allowed, and ALLOW ipBlocks keep Envoy's reading (no cross-family match)", () => {
    for (const sourceIp of ["10.2.0.1", "::ffff:10.2.0.1", "64:ff9b::a01:203", "fd00::1"]) {
      expect(decide(denyRange, { sourceIp, path: "/x", host: "api.internal" }).allowed, sourceIp).toBe(true);
    }
    const allowRange = `${head("allow-range")}spec:
  rules:
  - from: [{source: {ipBlocks: ["10.1.0.0/16"]}}]
`;
    expect(decide(allowRange, { sourceIp: "10.1.2.3", path: "/x", host: "api.internal" }).allowed).toBe(true);
    expect(decide(allowRange, { sourceIp: "::ffff:10.1.2.3", path: "/x", host: "api.internal" }).allowed).toBe(false);
  });
});

describe("a selector that meets unknown destination labels is not skipped", () => {
  const WEB = "spiffe://cluster.local/ns/services/sa/web";
  const scoped = `${head("deny-admin")}spec:
  selector: {matchLabels: {app: payment}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin"]}}]
${head("payment-callers")}spec:
  selector: {matchLabels: {app: payment}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`;
  const call = (principal: string, path: string, labels: Record<string, string>) =>
    evaluate(policySet(scoped), model({ principal, path, host: "payment", labels })).decision;

  // Nothing told the labels (no inventory, no pod, no labels from the sidecar): before, both policies were skipped,
  // so /admin and the web caller were allowed although Istio, which knows the pod's labels, denies them.
  it("applies the DENY and keeps the ALLOW policy in force without letting it allow", () => {
    expect(call(ORDER, "/admin", {}).allowed).toBe(false);
    const web = call(WEB, "/api/x", {});
    expect(web.allowed).toBe(false);
    expect(web.reason).toContain("services/payment-callers cannot allow: nothing told the destination's labels");
    expect(call(ORDER, "/api/x", {}).allowed).toBe(false); // stricter than Istio here: it cannot tell
  });

  it("decides as Istio once the labels are known", () => {
    expect(call(ORDER, "/api/x", { app: "payment" }).allowed).toBe(true);
    expect(call(WEB, "/api/x", { app: "payment" }).allowed).toBe(false);
    expect(call(ORDER, "/admin", { app: "payment" }).allowed).toBe(false);
    expect(call(WEB, "/admin", { app: "cart" }).allowed).toBe(true);
  });
});

describe("trailing-dot hosts do not slip past DENY host rules", () => {
  it.each(["admin.internal", "admin.internal:443", "admin.internal.", "Admin.Internal.:443"])(
    "%s is denied",
    (host) => {
      expect(decide(adversarial, { path: "/api/x", host }).allowed).toBe(false);
    },
  );
});

describe("malformed authorities are read the way a lenient server reads them by DENY host rules", () => {
  it.each([
    "admin.internal:443:443",
    " admin.internal",
    "admin.internal\t",
    "user@admin.internal",
    "admin%2Einternal",
    "admin.internal%2e",
    "ADMIN.internal.:",
  ])("%j is denied", (host) => {
    expect(decide(adversarial, { path: "/api/x", host }).allowed).toBe(false);
  });

  it("other hosts are still allowed", () => {
    for (const host of ["api.internal", "admin.internal.example", "notadmin.internal:443", "xn--admin.internal"]) {
      expect(decide(adversarial, { path: "/api/x", host }).allowed, host).toBe(true);
    }
  });
});

describe("ALLOW rules never match more than Istio", () => {
  const allowHost = `${head("a")}spec:\n  rules:\n  - to: [{operation: {hosts: ["httpbin.bar"]}}]\n`;
  it.each(["httpbin.bar:8000", "httpbin.bar."])("hosts [httpbin.bar] does not allow %s", (host) => {
    expect(decide(allowHost, { host }).allowed).toBe(false);
  });

  it("a principal written with spiffe:// allows nobody", () => {
    const yaml = `${head("a")}spec:\n  rules:\n  - from: [{source: {principals: ["${ORDER}"]}}]\n`;
    expect(decide(yaml, {}).allowed).toBe(false);
  });

  it("namespaces need a '/' after the namespace", () => {
    const yaml = `${head("a")}spec:\n  rules:\n  - from: [{source: {namespaces: ["foo"]}}]\n`;
    expect(decide(yaml, { principal: "spiffe://cluster.local/ns/foo" }).allowed).toBe(false);
  });

  it("'//' is not merged for an ALLOW path", () => {
    const yaml = `${head("a")}spec:\n  rules:\n  - to: [{operation: {paths: ["/admin"]}}]\n`;
    expect(decide(yaml, { path: "//admin" }).allowed).toBe(false);
  });

  it("a template segment never matches '='", () => {
    const yaml = `${head("a")}spec:\n  rules:\n  - to: [{operation: {paths: ["/api/{*}"]}}]\n`;
    expect(decide(yaml, { path: "/api/a=b" }).allowed).toBe(false);
  });

  it("notValues ['*'] (header must be absent) does not allow an empty header", () => {
    const yaml = `${head("a")}spec:\n  rules:\n  - when: [{key: "request.headers[x-internal]", notValues: ["*"]}]\n`;
    expect(decide(yaml, { headers: { "x-internal": "" } }).allowed).toBe(false);
  });

  it("a DENY values ['*'] denies a present empty header", () => {
    const yaml = `${head("d")}spec:\n  action: DENY\n  rules:\n  - when: [{key: "request.headers[x-debug]", values: ["*"]}]\n`;
    expect(decide(yaml, { headers: { "x-debug": "" } }).allowed).toBe(false);
  });

  it("a DENY on connection.sni denies when the CheckRequest carries no TLS session", () => {
    const yaml = `${head("d")}spec:\n  action: DENY\n  rules:\n  - when: [{key: connection.sni, values: [admin.example.com]}]\n`;
    expect(decide(yaml, {}).allowed).toBe(false);
  });
});

describe("condition keys named like JavaScript built-ins", () => {
  it.each(["constructor", "toString", "hasOwnProperty"])(
    "{key: %s} is a load error, never an internal error",
    (key) => {
      const { errors } = compileYaml(
        `${head("d")}spec:\n  action: DENY\n  rules:\n  - when: [{key: ${key}, values: ["x*"]}]\n`,
      );
      expect(errors.map((e) => e.message).join("\n")).toContain(`unknown condition key "${key}"`);
    },
  );
});
