import { describe, expect, it } from "vitest";
import { model, policySet, type TestRequest } from "../../test/support/fixtures.js";
import type { RiskAssessment, RiskView } from "../model/risk-view.js";
import { evaluate } from "./evaluate.js";
import type { Trace } from "./trace.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const BILLING = "spiffe://cluster.local/ns/services/sa/billing";
const WEB = "spiffe://cluster.local/ns/frontend/sa/web";

function policy(ns: string, name: string, spec: string, extra = ""): string {
  return `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${ns}${extra}
spec:
${spec
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

function decide(yaml: string, request: TestRequest, risk?: RiskView) {
  return evaluate(policySet(yaml), model(request, risk)).decision;
}

const paymentAllow = policy(
  "services",
  "payment-allow",
  `selector: {matchLabels: {app: payment}}
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/services/sa/order", "cluster.local/ns/services/sa/billing"]
  to:
  - operation:
      methods: [GET, POST]
      paths: ["/api/v1/payment/*"]
  when:
  - key: request.headers[x-request-id]
    values: ["*"]`,
);

describe("evaluate: Istio action semantics", () => {
  it("allows when no ALLOW policy applies", () => {
    expect(decide("", { principal: ORDER })).toMatchObject({ allowed: true, policy: "trustgate/no-allow-policy" });
  });

  it("allows a request matching an ALLOW rule, naming the policy and rule", () => {
    const d = decide(paymentAllow, {
      principal: ORDER,
      method: "POST",
      path: "/api/v1/payment/42?debug=1",
      headers: { "x-request-id": "abc" },
    });
    expect(d).toEqual({
      allowed: true,
      outcome: "allow",
      reason: "allowed by ALLOW policy services/payment-allow rule 0",
      policy: "services/payment-allow",
      rule: 0,
    });
  });

  it("matches principals written without spiffe://", () => {
    const r = { method: "GET", path: "/api/v1/payment/1", headers: { "x-request-id": "1" } };
    expect(decide(paymentAllow, { ...r, principal: BILLING }).allowed).toBe(true);
    expect(decide(paymentAllow, { ...r, principal: ORDER }).allowed).toBe(true);
    expect(decide(paymentAllow, { ...r, principal: WEB }).allowed).toBe(false);
  });

  it("denies by default when an ALLOW policy applies but no rule matches, and says which rule came closest", () => {
    const d = decide(paymentAllow, {
      principal: ORDER,
      method: "DELETE",
      path: "/api/v1/payment/42",
      headers: { "x-request-id": "1" },
    });
    expect(d).toMatchObject({ allowed: false, outcome: "deny", policy: "trustgate/default-deny", rule: -1 });
    expect(d.reason).toBe(
      'no ALLOW rule matched; closest: services/payment-allow rule 0 failed on to[0].operation.methods ("DELETE")',
    );
  });

  it('requires a present, non-empty header for values ["*"] in an ALLOW rule', () => {
    const d = decide(paymentAllow, { principal: ORDER, method: "GET", path: "/api/v1/payment/42" });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("when[0] request.headers[x-request-id] (no value)");
  });

  it("ignores the query string: paths match the path alone", () => {
    const yaml = policy(
      "services",
      "deny-admin",
      `action: DENY\nrules:\n- to:\n  - operation:\n      paths: ["/admin"]`,
    );
    expect(decide(yaml, { principal: ORDER, path: "/admin?x=1" }).allowed).toBe(false);
    expect(decide(yaml, { principal: ORDER, path: "/%61dmin" }).allowed).toBe(false);
    expect(decide(yaml, { principal: ORDER, path: "//admin" }).allowed).toBe(false);
    expect(decide(yaml, { principal: ORDER, path: "/public?path=/admin" }).allowed).toBe(true);
  });

  it("evaluates DENY before ALLOW", () => {
    const yaml = `${paymentAllow}${policy(
      "services",
      "no-refunds",
      `action: DENY\nrules:\n- to:\n  - operation:\n      paths: ["/api/v1/payment/refund"]`,
    )}`;
    const d = decide(yaml, {
      principal: ORDER,
      method: "POST",
      path: "/api/v1/payment/refund",
      headers: { "x-request-id": "1" },
    });
    expect(d).toMatchObject({ allowed: false, outcome: "deny", policy: "services/no-refunds", rule: 0 });
    expect(d.reason).toBe("denied by DENY policy services/no-refunds rule 0");
  });

  it("ORs rules and ANDs from/to/when inside a rule (the split-rule mistake allows far more)", () => {
    const split = policy(
      "services",
      "split",
      `rules:
- from:
  - source:
      principals: ["cluster.local/ns/services/sa/order"]
- to:
  - operation:
      methods: [POST]`,
    );
    // Anyone may POST, and order may do anything: each rule alone is enough.
    expect(decide(split, { principal: WEB, method: "POST" }).allowed).toBe(true);
    expect(decide(split, { principal: ORDER, method: "DELETE" }).allowed).toBe(true);
    expect(decide(split, { principal: WEB, method: "GET" }).allowed).toBe(false);
  });

  it("does not let AUDIT change the outcome, but reports it", () => {
    const yaml = policy("services", "audit-all", "action: AUDIT\nrules:\n- {}");
    const result = evaluate(policySet(yaml), model({ principal: ORDER }));
    expect(result.decision.allowed).toBe(true);
    expect(result.audit).toEqual(["services/audit-all"]);
  });

  it("treats `spec: {}` as allow-nothing and `rules: [{}]` as allow-all", () => {
    expect(decide(policy("services", "nothing", "{}"), { principal: ORDER }).allowed).toBe(false);
    expect(decide(policy("services", "all", "rules:\n- {}"), { principal: ORDER }).allowed).toBe(true);
  });
});

describe("evaluate: scope", () => {
  const denyAll = (ns: string, selector = "") => policy(ns, `deny-${ns}`, `${selector}action: DENY\nrules:\n- {}`);

  it("applies root-namespace policies mesh-wide and other namespaces only to their own workloads", () => {
    expect(decide(denyAll("istio-system"), { principal: ORDER }).allowed).toBe(false);
    expect(decide(denyAll("services"), { principal: ORDER }).allowed).toBe(false);
    expect(decide(denyAll("data"), { principal: ORDER }).allowed).toBe(true);
  });

  it("matches selectors against the destination labels", () => {
    const yaml = denyAll("services", "selector: {matchLabels: {app: payment, tier: backend}}\n");
    expect(decide(yaml, { labels: { app: "payment", tier: "backend", v: "1" } }).allowed).toBe(false);
    expect(decide(yaml, { labels: { app: "payment" } }).allowed).toBe(true);
    expect(
      decide(yaml, {
        labels: {},
        contextExtensions: { "trustgate.label.app": "payment", "trustgate.label.tier": "backend" },
      }).allowed,
    ).toBe(false);
  });

  it("takes the destination namespace from context_extensions when the principal has none", () => {
    const yaml = denyAll("data");
    const r = { destinationPrincipal: "", contextExtensions: { "trustgate.namespace": "data" } };
    expect(decide(yaml, r).allowed).toBe(false);
  });
});

describe("evaluate: Source fields", () => {
  const allowFrom = (source: string) =>
    policy(
      "services",
      "allow",
      `rules:\n- from:\n  - source:\n${source
        .split("\n")
        .map((l) => `      ${l}`)
        .join("\n")}`,
    );

  it.each([
    ["namespaces: [services]", ORDER, true],
    ["namespaces: [services]", WEB, false],
    ["notNamespaces: [frontend]", ORDER, true],
    ["notNamespaces: [frontend]", WEB, false],
    ["serviceAccounts: [services/order]", ORDER, true],
    ["serviceAccounts: [services/order]", BILLING, false],
    ["notServiceAccounts: [services/order]", BILLING, true],
    ["trustDomains: [cluster.local]", ORDER, true],
    ["trustDomains: [other.example]", ORDER, false],
    ["notTrustDomains: [other.example]", ORDER, true],
    ['principals: ["*/sa/order"]', ORDER, true],
    ['principals: ["cluster.local/ns/services/*"]', BILLING, true],
    ['principals: ["cluster.local/ns/services/*"]', WEB, false],
    ['principals: ["*"]', ORDER, true],
    ['principals: ["*"]', "", false],
    ['notPrincipals: ["*"]', "", true],
    ['notPrincipals: ["*"]', ORDER, false],
  ])("%s with caller %j → %s", (source, principal, allowed) => {
    expect(decide(allowFrom(source), { principal }).allowed).toBe(allowed);
  });

  it.each([
    ['ipBlocks: ["10.0.0.0/8"]', "10.9.8.7", true],
    ['ipBlocks: ["10.0.0.0/8"]', "192.168.0.1", false],
    ['ipBlocks: ["10.1.2.3"]', "10.1.2.3", true],
    ['notIpBlocks: ["10.0.0.0/8"]', "192.168.0.1", true],
    ['ipBlocks: ["fd00::/8"]', "fd12::1", true],
    ['ipBlocks: ["fd00::/8"]', "fe80::1", false],
    ['ipBlocks: ["fd00::/8"]', "", false],
  ])("%s with source ip %s → %s", (source, sourceIp, allowed) => {
    expect(decide(allowFrom(source), { sourceIp }).allowed).toBe(allowed);
  });
});

describe("evaluate: Operation fields", () => {
  const allowTo = (op: string) =>
    policy(
      "services",
      "allow",
      `rules:\n- to:\n  - operation:\n${op
        .split("\n")
        .map((l) => `      ${l}`)
        .join("\n")}`,
    );

  it.each([
    ['hosts: ["Payment.Example.com"]', { host: "payment.example.com" }, true],
    ['hosts: ["payment.example.com"]', { host: "PAYMENT.example.com" }, true],
    ['hosts: ["payment.example.com"]', { host: "payment.example.com:8443" }, false],
    ['hosts: ["payment.example.com"]', { host: "payment.example.com." }, false],
    ['hosts: ["payment.example.com", "payment.example.com:*"]', { host: "payment.example.com:8443" }, true],
    ['hosts: ["*.example.com"]', { host: "api.example.com:8443" }, false],
    ['hosts: ["*"]', { host: "anything" }, true],
    ['hosts: ["*.example.com"]', { host: "api.example.com" }, true],
    ['hosts: ["payment.example.com:8443"]', { host: "payment.example.com" }, false],
    ['notHosts: ["payment.example.com"]', { host: "payment.example.com:80" }, true],
    ['notHosts: ["payment.example.com"]', { host: "Payment.Example.COM" }, false],
    ['paths: ["/api/v1/payment"]', { path: "//api/v1/payment" }, false],
    ['paths: ["/api/v1/payment"]', { path: "/api/v1/payment;x=1" }, false],
    ['paths: ["/api/v1/payment"]', { path: "/API/v1/payment" }, false],
    ['paths: ["/api/*/users"]', { path: "/api/v1/users" }, false],
    ['paths: ["/api/*/users"]', { path: "/api/*/users" }, true],
    ['paths: ["/files/{**}"]', { path: "/files/" }, true],
    ['paths: ["/store/{**}/cart"]', { path: "/store//cart" }, true],
    ['paths: ["/store/{**}/cart"]', { path: "/store/cart" }, false],
    ['paths: ["/api/{*}"]', { path: "/api/a=b" }, false],
    ['methods: ["*"]', { method: "BREW" }, true],
    ['ports: ["8080"]', { destinationPort: 8080 }, true],
    ["ports: [9090]", { destinationPort: 8080 }, false],
    ['notPorts: ["22"]', { destinationPort: 8080 }, true],
    ["methods: [GET]", { method: "GET" }, true],
    ["methods: [GET]", { method: "get" }, false],
    ["notMethods: [DELETE]", { method: "DELETE" }, false],
    ['paths: ["/api/v1/payment"]', { path: "/api/v1/payment" }, true],
    ['paths: ["/api/v1/payment"]', { path: "/api/v1/payment/" }, false],
    ['paths: ["/api/*"]', { path: "/api/anything/at/all" }, true],
    ['paths: ["*.css"]', { path: "/static/site.css?v=2" }, true],
    ['paths: ["*"]', { path: "/" }, true],
    ['paths: ["/users/{*}/orders"]', { path: "/users/42/orders" }, true],
    ['paths: ["/users/{*}/orders"]', { path: "/users/42/x/orders" }, false],
    ['paths: ["/files/{**}"]', { path: "/files/a/b/c.txt" }, true],
    ['paths: ["/files/{**}"]', { path: "/files" }, false],
    ['notPaths: ["/admin/*"]', { path: "/admin/users" }, false],
  ])("%s with %j → %s", (op, request, allowed) => {
    expect(decide(allowTo(op), { principal: ORDER, ...request }).allowed).toBe(allowed);
  });
});

describe("evaluate: conditions", () => {
  const allowWhen = (cond: string) =>
    policy(
      "services",
      "allow",
      `rules:\n- when:\n${cond
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n")}`,
    );

  it.each([
    ['- key: request.headers[X-Tenant]\n  values: ["acme"]', { headers: { "x-tenant": "acme" } }, true],
    ['- key: request.headers[x-tenant]\n  values: ["acme"]', { headers: { "x-tenant": "other" } }, false],
    [
      '- key: request.headers[x-tenant]\n  values: ["ac*"]\n  notValues: ["acme-evil"]',
      { headers: { "x-tenant": "acme-evil" } },
      false,
    ],
    ["- key: source.principal\n  values: [cluster.local/ns/services/sa/order]", { principal: ORDER }, true],
    ["- key: source.namespace\n  values: [services]", { principal: ORDER }, true],
    ["- key: source.serviceAccount\n  values: [services/order]", { principal: ORDER }, true],
    ["- key: source.trust_domain\n  values: [cluster.local]", { principal: ORDER }, true],
    ['- key: source.ip\n  values: ["10.0.0.0/24"]', { sourceIp: "10.0.0.9" }, true],
    ['- key: destination.ip\n  values: ["10.0.0.2"]', {}, true],
    ['- key: destination.port\n  values: ["8080"]', {}, true],
    ['- key: connection.sni\n  values: ["payment.*"]', { sni: "payment.services" }, true],
    ['- key: connection.sni\n  values: ["payment.*"]', {}, false],
  ])("%s with %j → %s", (cond, request, allowed) => {
    expect(decide(allowWhen(cond), request).allowed).toBe(allowed);
  });
});

describe("evaluate: TCP checks (no HTTP request)", () => {
  it("never matches HTTP-only fields in ALLOW rules", () => {
    const yaml = policy("services", "allow", 'rules:\n- to:\n  - operation:\n      paths: ["*"]');
    expect(decide(yaml, { principal: ORDER, tcp: true }).allowed).toBe(false);
  });

  it("counts HTTP-only fields as matched in DENY rules (fail closed)", () => {
    const yaml = policy("services", "deny", 'action: DENY\nrules:\n- to:\n  - operation:\n      paths: ["/admin"]');
    expect(decide(yaml, { principal: ORDER, tcp: true }).allowed).toBe(false);
    expect(decide(yaml, { principal: ORDER, path: "/public" }).allowed).toBe(true);
  });

  it("decides on identity alone", () => {
    const yaml = policy(
      "services",
      "allow",
      'rules:\n- from:\n  - source:\n      principals: ["cluster.local/ns/services/sa/order"]',
    );
    expect(decide(yaml, { principal: ORDER, tcp: true }).allowed).toBe(true);
    expect(decide(yaml, { principal: WEB, tcp: true }).allowed).toBe(false);
  });
});

describe("evaluate: unauthenticated callers", () => {
  it("answers unauthenticated when an identity rule denies a caller without identity", () => {
    const yaml = policy(
      "istio-system",
      "require-mtls",
      'action: DENY\nrules:\n- from:\n  - source:\n      notPrincipals: ["*"]',
    );
    expect(decide(yaml, {})).toMatchObject({
      allowed: false,
      outcome: "unauthenticated",
      policy: "istio-system/require-mtls",
    });
  });

  it("answers unauthenticated when only an identity could have matched an ALLOW rule", () => {
    expect(
      decide(paymentAllow, { method: "GET", path: "/api/v1/payment/1", headers: { "x-request-id": "1" } }),
    ).toMatchObject({
      outcome: "unauthenticated",
      policy: "trustgate/default-deny",
    });
  });

  it("answers a plain deny when the denying rule does not involve identity", () => {
    const yaml = policy(
      "services",
      "deny-admin",
      'action: DENY\nrules:\n- to:\n  - operation:\n      paths: ["/admin"]',
    );
    expect(decide(yaml, { path: "/admin" }).outcome).toBe("deny");
  });
});

class FakeRisk implements RiskView {
  constructor(
    private readonly levels: Record<string, RiskAssessment>,
    private readonly feedState: "fresh" | "stale" = "fresh",
  ) {}
  assess(id: string): RiskAssessment {
    return this.levels[id] ?? { level: "low", highestAlert: "none", explanation: "" };
  }
  feed() {
    return this.feedState;
  }
}

describe("evaluate: Falco risk conditions", () => {
  const shell = 'Falco "Terminal shell in container" (Critical, 2026-11-28T10:00:00.000000000Z)';
  const risky = new FakeRisk({ [ORDER]: { level: "critical", highestAlert: "critical", explanation: shell } });
  const databaseAllow = policy(
    "data",
    "database-allow",
    `rules:
- from:
  - source:
      principals: ["cluster.local/ns/services/sa/order"]
  when:
  - key: custom.falco_risk_score
    values: [low, medium]`,
  );
  const toDatabase = {
    principal: ORDER,
    destinationPrincipal: "spiffe://cluster.local/ns/data/sa/database",
    labels: { app: "database" },
  };

  it("allows a low-risk caller and denies a critical one, naming the alert", () => {
    expect(decide(databaseAllow, toDatabase).allowed).toBe(true);
    const d = decide(databaseAllow, toDatabase, risky);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('when[0] custom.falco_risk_score ("critical")');
    expect(d.reason).toContain(shell);
  });

  it("names the risk in a default deny only when a risk condition failed", () => {
    const fromWeb = { ...toDatabase, principal: WEB };
    const low = decide(databaseAllow, fromWeb);
    expect(low.reason).toContain("failed on from[0].source.principals");
    expect(low.reason).not.toContain("caller risk");
    const both = decide(
      databaseAllow,
      fromWeb,
      new FakeRisk({ [WEB]: { level: "critical", highestAlert: "critical", explanation: shell } }),
    );
    expect(both.reason).toContain('when[0] custom.falco_risk_score ("critical"); caller risk critical');
  });

  it("names the alert when a DENY rule on risk decides", () => {
    const yaml = policy(
      "istio-system",
      "deny-critical",
      `action: DENY
rules:
- to:
  - operation:
      notPaths: ["/healthz"]
  when:
  - key: custom.falco_alert
    values: [critical, alert, emergency]`,
    );
    const d = decide(yaml, { principal: ORDER, path: "/api" }, risky);
    expect(d).toMatchObject({ allowed: false, policy: "istio-system/deny-critical" });
    expect(d.reason).toBe(
      `denied by DENY policy istio-system/deny-critical rule 0: caller risk critical, highest alert critical (${shell})`,
    );
    expect(decide(yaml, { principal: ORDER, path: "/healthz" }, risky).allowed).toBe(true);
  });

  it("reads the destination's risk and the feed state", () => {
    const yaml = policy(
      "services",
      "guard",
      "action: DENY\nrules:\n- when:\n  - key: custom.destination_falco_risk_score\n    values: [critical]\n- when:\n  - key: custom.falco_feed\n    values: [stale]",
    );
    const destinationRisky = new FakeRisk({
      "spiffe://cluster.local/ns/services/sa/payment": { level: "critical", highestAlert: "alert", explanation: "x" },
    });
    expect(decide(yaml, { principal: ORDER }, destinationRisky).allowed).toBe(false);
    expect(decide(yaml, { principal: ORDER }, new FakeRisk({}, "stale"))).toMatchObject({ allowed: false, rule: 1 });
    expect(decide(yaml, { principal: ORDER }, new FakeRisk({})).allowed).toBe(true);
  });
});

describe("evaluate: dry run", () => {
  const shadowDeny = policy(
    "services",
    "new-deny",
    'action: DENY\nrules:\n- to:\n  - operation:\n      paths: ["/beta/*"]',
    '\n  annotations:\n    istio.io/dry-run: "true"',
  );

  it("never enforces a dry-run policy but reports what it would have done", () => {
    const result = evaluate(policySet(shadowDeny), model({ principal: ORDER, path: "/beta/x" }));
    expect(result.decision.allowed).toBe(true);
    expect(result.shadow).toMatchObject({ allowed: false, policy: "services/new-deny" });
    expect(evaluate(policySet(shadowDeny), model({ principal: ORDER, path: "/other" })).shadow).toMatchObject({
      allowed: true,
    });
  });

  it("has no shadow decision when no dry-run policy applies", () => {
    expect(evaluate(policySet(paymentAllow), model({ principal: ORDER })).shadow).toBeNull();
  });

  it("global dry run allows everything and reports the real decision as shadow", () => {
    const result = evaluate(policySet(paymentAllow), model({ principal: WEB }), { dryRun: true });
    expect(result.decision).toMatchObject({ allowed: true, policy: "trustgate/default-deny" });
    expect(result.decision.reason).toMatch(/^dry-run mode, not enforced: no ALLOW rule matched/);
    expect(result.shadow).toMatchObject({ allowed: false });
  });
});

describe("evaluate: trace", () => {
  it("records every policy (in scope or not), every rule and every field", () => {
    const yaml = `${paymentAllow}${policy("data", "db", "rules:\n- {}")}`;
    const trace: Trace = { policies: [] };
    const result = evaluate(
      policySet(yaml),
      model({ principal: WEB, method: "GET", path: "/api/v1/payment/1", headers: { authorization: "secret" } }),
      { trace },
    );
    expect(result.decision.allowed).toBe(false);
    const payment = trace.policies.find((p) => p.id === "services/payment-allow")!;
    expect(payment.inScope).toBe(true);
    expect(payment.rules[0]!.matched).toBe(false);
    expect(payment.rules[0]!.fields.map((f) => [f.field, f.passed])).toEqual([
      ["from[0].source.principals", false],
      ["to[0].operation.methods", true],
      ["to[0].operation.paths", true],
      ["when[0] request.headers[x-request-id]", false],
    ]);
    const db = trace.policies.find((p) => p.id === "data/db")!;
    expect(db.inScope).toBe(false);
    expect(db.scopeNote).toContain("namespace data is neither the destination's (services)");
  });

  it("says why an ALLOW rule istiod skips on TCP did not match, with and without a trace alike", () => {
    const yaml = policy(
      "services",
      "mixed",
      `rules:\n- to: [{operation: {ports: ["8080"]}}, {operation: {paths: ["/x"]}}]`,
    );
    const trace: Trace = { policies: [] };
    const tcp = model({ principal: ORDER, tcp: true, destinationPort: 8080 });
    expect(evaluate(policySet(yaml), tcp, { trace }).decision.allowed).toBe(false);
    expect(evaluate(policySet(yaml), tcp).decision.allowed).toBe(false);
    const rule = trace.policies.find((p) => p.id === "services/mixed")!.rules[0]!;
    expect(rule.matched).toBe(false);
    expect(rule.note).toContain("HTTP-only field never matches a TCP request");
    expect(rule.fields.find((f) => f.field === "to[0].operation.ports")?.passed).toBe(true);
  });

  it("gives the same decision with and without a trace", () => {
    const set = policySet(paymentAllow);
    for (const r of [
      { principal: ORDER, method: "GET", path: "/api/v1/payment/1", headers: { "x-request-id": "1" } },
      { principal: WEB },
      {},
    ]) {
      expect(evaluate(set, model(r), { trace: { policies: [] } }).decision).toEqual(evaluate(set, model(r)).decision);
    }
  });
});
