import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import type { Workload } from "../workloads/workload-inventory.js";
import { formatWarning, lintPolicySet, lintSteps } from "./lint.js";

const header = (ns: string, name: string) => `---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${ns}
`;

// A payment policy written the way people often first write it: from, to and when as three separate rules.
const splitPayment = `${header("production", "spiffe-authz")}spec:
  selector:
    matchLabels:
      app: payment-service
  rules:
  - from:
    - source:
        principals:
        - "cluster.local/ns/production/sa/order-service"
        - "cluster.local/ns/production/sa/billing-service"
  - to:
    - operation:
        methods: ["POST", "GET"]
        paths: ["/api/v1/payment/*"]
  - when:
    - key: source.certificate_subject
      values: ["CN=order-service.production.cluster.local"]
    - key: request.headers[x-request-id]
      values: ["req-*"]
`;

const workloads: Workload[] = [
  {
    name: "payment",
    namespace: "production",
    serviceAccount: "payment-service",
    spiffeId: "spiffe://cluster.local/ns/production/sa/payment-service",
    labels: { app: "payment-service" },
    containers: [],
    podPrefixes: [],
    images: [],
  },
  {
    name: "order",
    namespace: "production",
    serviceAccount: "order-service",
    spiffeId: "spiffe://cluster.local/ns/production/sa/order-service",
    labels: { app: "order-service" },
    containers: [],
    podPrefixes: [],
    images: [],
  },
];

function lint(yaml: string, withWorkloads = false) {
  return lintPolicySet(policySet(yaml), { workloads: withWorkloads ? workloads : [], trustDomains: ["cluster.local"] });
}

describe("lint", () => {
  it("flags a payment policy split into three rules and explains why", () => {
    const warnings = lint(splitPayment);
    expect(warnings.map((w) => w.code)).toEqual(["split-rule"]);
    const text = formatWarning(warnings[0]!);
    expect(text).toContain('rule 0 has only "from", rule 1 has only "to", rule 2 has only "when"');
    expect(text).toContain("the `to` rule lets ANY caller in");
    expect(text).toContain("fix: put from, to and when in the same rule");
    expect(warnings[0]).toMatchObject({ file: "test.yaml", line: 12, policy: "production/spiffe-authz" });
  });

  it("does not flag the same intent written as one rule", () => {
    const single = splitPayment.replace("  - to:\n", "    to:\n").replace("  - when:\n", "    when:\n");
    expect(lint(single)).toEqual([]);
  });

  it("flags an ALLOW rule {} that allows everything, and a DENY {} that denies everything", () => {
    expect(lint(`${header("a", "p")}spec:\n  rules:\n  - {}\n`).map((w) => w.code)).toEqual(["allow-all"]);
    expect(lint(`${header("a", "p")}spec:\n  action: DENY\n  rules:\n  - {}\n`).map((w) => w.code)).toEqual([
      "deny-all",
    ]);
  });

  it.each([
    ["principals: [ns/default/sa/sleep]", "principal-without-trust-domain", 'read as trust domain "ns"'],
    ["principals: [order-service]", "principal-without-trust-domain", 'read as trust domain "order-service"'],
  ])("flags %s", (source, code, message) => {
    const warnings = lint(`${header("a", "p")}spec:\n  rules:\n  - from:\n    - source:\n        ${source}\n`);
    expect(warnings.map((w) => w.code)).toEqual([code]);
    expect(warnings[0]!.message).toContain(message);
  });

  it.each([
    ['paths: ["/api?debug=1"]', "path-with-query"],
    ['hosts: ["api.example.com"]', "allow-host-without-port"],
    ['paths: ["/api/*/x"]', "literal-star"],
    ["methods: [get]", "lowercase-method"],
  ])("flags %s", (operation, code) => {
    const warnings = lint(`${header("a", "p")}spec:\n  rules:\n  - to:\n    - operation:\n        ${operation}\n`);
    expect(warnings.map((w) => w.code)).toEqual([code]);
  });

  it("flags a selector no declared workload matches, only when workloads are declared", () => {
    const yaml = `${header("production", "p")}spec:\n  selector:\n    matchLabels: {app: paymnet}\n  rules:\n  - from:\n    - source:\n        principals: [cluster.local/ns/production/sa/order-service]\n`;
    expect(lint(yaml)).toEqual([]);
    expect(lint(yaml, true).map((w) => w.code)).toEqual(["selector-matches-nothing"]);
    expect(lint(yaml.replace("paymnet", "payment-service"), true)).toEqual([]);
  });

  it("flags a principal that is not a declared workload (a DENY typo fails open)", () => {
    const yaml = `${header("production", "p")}spec:\n  action: DENY\n  rules:\n  - from:\n    - source:\n        principals: [cluster.local/ns/production/sa/ordr-service]\n`;
    const warnings = lint(yaml, true);
    expect(warnings.map((w) => w.code)).toEqual(["unknown-principal"]);
    expect(warnings[0]!.message).toContain("fails open");
  });

  it("flags an ALLOW rule that a DENY on the same scope makes unreachable", () => {
    const yaml = `${header("production", "deny-admin")}spec:\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        paths: ["/admin", "/admin/*"]\n${header("production", "allow-admin")}spec:\n  rules:\n  - from:\n    - source:\n        principals: [cluster.local/ns/production/sa/order-service]\n    to:\n    - operation:\n        methods: [GET]\n        paths: ["/admin/*"]\n  - to:\n    - operation:\n        paths: ["/public"]\n`;
    const warnings = lint(yaml).filter((w) => w.code !== "deny-path-trap");
    expect(warnings.map((w) => [w.code, w.policy, w.rule])).toEqual([
      ["allow-unreachable", "production/allow-admin", 0],
    ]);
    expect(warnings[0]!.message).toContain("denied first by production/deny-admin rule 0");
  });

  it("does not call an ALLOW unreachable when the DENY is narrower or scoped elsewhere", () => {
    const narrower = `${header("production", "deny")}spec:\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        paths: ["/admin/users"]\n${header("production", "allow")}spec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/admin/*"]\n`;
    const quiet = (yaml: string) => lint(yaml).filter((w) => !w.code.startsWith("deny-p"));
    expect(quiet(narrower)).toEqual([]);
    const elsewhere = `${header("other", "deny")}spec:\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        paths: ["/admin/*"]\n${header("production", "allow")}spec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/admin/*"]\n`;
    expect(quiet(elsewhere)).toEqual([]);
  });

  it("passes the example policy library without a warning (`npm start` loads it: a first start should be quiet)", async () => {
    const { loadPolicySet } = await import("../policy/load-policy-set.js");
    const loaded = await loadPolicySet(["policies"], { rootNamespace: "istio-system" });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) {
      const warnings = lintPolicySet(loaded.set, { workloads: [], trustDomains: ["cluster.local"] });
      expect(warnings.map((w) => [w.code, w.policy])).toEqual([]);
    }
  });
});

describe("lint: Istio traps, each with the portable spelling", () => {
  const rule = (action: string, body: string) =>
    `${header("a", "p")}spec:\n  action: ${action}\n  rules:\n  - ${body}\n`;
  const JWT_ON = { numTrustedProxies: 0, jwt: { enabled: true, payloadKeys: [] } };
  function trapLint(yaml: string, request = JWT_ON) {
    return lintPolicySet(policySet(yaml), { workloads: [], trustDomains: ["cluster.local"], request });
  }

  it.each([
    ["DENY", `to: [{operation: {hosts: ["admin.internal"]}}]`, "deny-host-trap", '"admin.internal:*"'],
    [
      "DENY",
      `from: [{source: {principals: ["spiffe://cluster.local/ns/a/sa/b"]}}]`,
      "principal-with-scheme",
      'write "cluster.local/ns/a/sa/b"',
    ],
    [
      "ALLOW",
      `from: [{source: {principals: ["spiffe://cluster.local/ns/a/sa/b"]}}]`,
      "principal-with-scheme",
      'write "cluster.local/ns/a/sa/b"',
    ],
    [
      "ALLOW",
      `from: [{source: {principals: ["Cluster.Local/ns/a/sa/b"]}}]`,
      "principal-never-matches",
      "<trust-domain>",
    ],
    ["ALLOW", `from: [{source: {principals: ["cluster.local/ns/*/sa/b"]}}]`, "principal-never-matches", "suffix"],
    ["DENY", `to: [{operation: {paths: ["/admin", "/admin/*"]}}]`, "deny-path-trap", "MERGE_SLASHES"],
    [
      "ALLOW",
      `when: [{key: "request.headers[x-token]", values: ["*"]}]`,
      "header-presence",
      "concrete value or prefix",
    ],
    ["DENY", `from: [{source: {remoteIpBlocks: ["1.2.3.4"]}}]`, "deny-remote-ip-spoofable", "ipBlocks"],
    ["DENY", `to: [{operation: {methods: [DELETE]}}]`, "deny-method-case", "allow methods positively"],
    ["DENY", `from: [{source: {ipBlocks: ["10.1.0.0/16"]}}]`, "deny-ip-mapped", '"::ffff:10.1.0.0/112"'],
    [
      "ALLOW",
      `from: [{source: {requestPrincipals: ["https://issuer"]}}]`,
      "request-principal-without-subject",
      '"https://issuer/*"',
    ],
    ["ALLOW", `from: [{source: {requestPrincipals: ["*/*"]}}]`, "request-principal-star-star", 'write "*"'],
    ["ALLOW", `when: [{key: connection.sni, values: [a.example]}]`, "sni-needs-tls-session", "include_tls_session"],
    [
      "ALLOW",
      `to: [{operation: {ports: ["5432"]}}, {operation: {paths: ["/health"]}}]`,
      "allow-rule-http-only-on-tcp",
      "a rule of their own",
    ],
    ["DENY", `from: []\n    to: [{operation: {ports: ["22"]}}]`, "empty-rule-list", 'omit "from"'],
    ["DENY", `when: [{key: "request.headersX[y]", values: ["1"]}]`, "condition-never-built", "request.headers[x-name]"],
  ])("%s %s → %s", (action, body, code, fix) => {
    const warnings = trapLint(rule(action, body));
    const found = warnings.find((w) => w.code === code);
    expect(found, JSON.stringify(warnings.map((w) => w.code))).toBeDefined();
    expect(found!.fix).toContain(fix);
  });

  it("says nothing of the method's case or mapped addresses where Istio and trustgate already agree", () => {
    const codes = (action: string, body: string) => trapLint(rule(action, body)).map((w) => w.code);
    expect(codes("ALLOW", `to: [{operation: {methods: [DELETE]}}]`)).not.toContain("deny-method-case");
    expect(codes("DENY", `to: [{operation: {notMethods: [GET]}}]`)).not.toContain("deny-method-case");
    expect(codes("DENY", `from: [{source: {ipBlocks: ["fd00::/8"]}}]`)).not.toContain("deny-ip-mapped");
    expect(codes("ALLOW", `from: [{source: {ipBlocks: ["10.0.0.0/8"]}}]`)).not.toContain("deny-ip-mapped");
  });

  it("warns of an HTTP-only field on TCP only where another entry of the ALLOW rule has none", () => {
    const codes = (action: string, body: string) => trapLint(rule(action, body)).map((w) => w.code);
    const mixed = `from: [{source: {namespaces: [a]}}, {source: {requestPrincipals: ["iss/sub"]}}]`;
    expect(codes("ALLOW", mixed)).toContain("allow-rule-http-only-on-tcp");
    expect(codes("DENY", mixed)).not.toContain("allow-rule-http-only-on-tcp");
    expect(codes("ALLOW", `to: [{operation: {paths: ["/a"]}}, {operation: {methods: [GET]}}]`)).not.toContain(
      "allow-rule-http-only-on-tcp",
    );
    expect(codes("ALLOW", `to: [{operation: {ports: ["80"], paths: ["/a"]}}]`)).not.toContain(
      "allow-rule-http-only-on-tcp",
    );
  });

  it("flags a DENY prefix that leaves the base path out", () => {
    const codes = trapLint(rule("DENY", `to: [{operation: {paths: ["/admin/*"]}}]`)).map((w) => w.code);
    expect(codes).toContain("deny-prefix-without-base");
  });

  it("flags JWT fields when Envoy is not said to forward the payloads", () => {
    const yaml = rule("DENY", `from: [{source: {requestPrincipals: ["iss/sub"]}}]`);
    expect(trapLint(yaml).map((w) => w.code)).not.toContain("jwt-not-forwarded");
    expect(
      trapLint(yaml, { numTrustedProxies: 0, jwt: { enabled: false, payloadKeys: [] } }).map((w) => w.code),
    ).toContain("jwt-not-forwarded");
  });

  it("is quiet about the portable spellings", () => {
    expect(trapLint(rule("DENY", `to: [{operation: {hosts: ["admin.internal:*"], notPaths: ["/x"]}}]`))).toEqual([]);
    expect(trapLint(rule("ALLOW", `to: [{operation: {hosts: ["a.example", "a.example:*"]}}]`))).toEqual([]);
  });
});

describe("lintSteps (lint a step at a time, for a thread that answers Checks)", () => {
  it("takes a step per policy and per ALLOW policy's shadowing check, and ends with lintPolicySet's warnings", () => {
    const yaml = [
      `${header("a", "p")}spec:\n  rules:\n  - {}\n`,
      `${header("b", "p")}spec:\n  action: DENY\n  rules:\n  - {}\n`,
      `${header("c", "p")}spec:\n  rules:\n  - to:\n    - operation:\n        methods: [get]\n`,
    ].join("");
    const set = policySet(yaml);
    const ctx = { workloads: [], trustDomains: ["cluster.local"] };
    const steps = lintSteps(set, ctx);
    let taken = 0;
    let step = steps.next();
    while (!step.done) {
      taken++;
      step = steps.next();
    }
    expect(taken).toBe(3 + 2);
    expect(step.value).toEqual(lintPolicySet(set, ctx));
    expect(step.value.map((w) => w.code).sort()).toEqual(["allow-all", "deny-all", "lowercase-method"]);
  });
});
