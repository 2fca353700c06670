import { describe, expect, it } from "vitest";
import { compileYaml } from "../../test/support/fixtures.js";
import { formatLoadError } from "./compiled.js";

function header(ns = "services", name = "p") {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${ns}
`;
}

function errorsOf(yaml: string): string[] {
  return compileYaml(yaml).errors.map(formatLoadError);
}

describe("compilePolicy: accepted documents", () => {
  it("compiles every Source and Operation field, conditions, selector and dry-run annotation", () => {
    const { policies, errors } = compileYaml(`apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: full
  namespace: services
  annotations:
    istio.io/dry-run: "true"
spec:
  selector:
    matchLabels: { app: payment }
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/services/sa/order", "spiffe://cluster.local/ns/services/sa/billing"]
        notPrincipals: ["*/sa/web"]
        trustDomains: [cluster.local]
        notTrustDomains: [evil.example]
        ipBlocks: ["10.0.0.0/8", "fd00::/8"]
        notIpBlocks: ["10.1.2.3"]
    - source:
        serviceAccounts: [services/api]
        notServiceAccounts: [services/web]
    to:
    - operation:
        hosts: ["*.example.com"]
        notHosts: [admin.example.com]
        ports: ["8080", 9090]
        notPorts: ["22"]
        methods: [GET, POST]
        notMethods: [DELETE]
        paths: ["/api/v1/payment/*", "/api/{*}/x", "/files/{**}", "*.js", "*"]
        notPaths: ["/api/v1/payment/admin"]
    when:
    - key: request.headers[X-Request-Id]
      notValues: [""]
    - key: source.certificate_fingerprint
      values: ["sha256:${"ab".repeat(32)}"]
    - key: source.certificate_subject
      values: ["CN=order*"]
    - key: custom.falco_risk_score
      values: [low, medium]
    - key: custom.falco_alert
      notValues: [critical, alert, emergency]
    - key: custom.destination_falco_risk_score
      notValues: [critical]
    - key: custom.falco_feed
      values: [fresh]
    - key: destination.port
      values: ["8080"]
    - key: connection.sni
      values: ["payment.*"]
    - key: source.ip
      values: ["10.0.0.0/8"]
`);
    expect(errors).toEqual([]);
    expect(policies).toHaveLength(1);
    const p = policies[0]!;
    expect(p).toMatchObject({ id: "services/full", action: "DENY", dryRun: true, selector: [["app", "payment"]] });
    expect(p.rules[0]).toMatchObject({ index: 0, needsIdentity: true, readsRisk: true, line: 13 });
    expect(p.rules[0]!.when.map((c) => c.field)).toContain("when[0] request.headers[X-Request-Id]");
    expect(p.rules[0]!.when[0]!.header).toBe("x-request-id");
  });

  it("defaults to ALLOW, treats a missing spec as allow-nothing and an empty rule as match-all", () => {
    const { policies, errors } = compileYaml(
      `${header()}spec:\n  rules:\n  - {}\n---\n${header("services", "nothing")}`,
    );
    expect(errors).toEqual([]);
    expect(policies.map((p) => [p.id, p.action, p.rules.length])).toEqual([
      ["services/p", "ALLOW", 1],
      ["services/nothing", "ALLOW", 0],
    ]);
  });
});

describe("compilePolicy: every mistake is an error with its location", () => {
  it.each([
    [
      "unknown spec field",
      `${header()}spec:\n  rulez: []\n`,
      'test.yaml:7: policy services/p, field spec.rulez: unknown field "rulez"',
    ],
    [
      "unknown source field",
      `${header()}spec:\n  rules:\n  - from:\n    - source:\n        principal: [x]\n`,
      'test.yaml:10: policy services/p, rule 0, field spec.rules[0].from[0].source.principal: unknown field "principal"',
    ],
    [
      "unknown condition key",
      `${header()}spec:\n  rules:\n  - when:\n    - key: source.principals\n      values: [x]\n`,
      'test.yaml:9: policy services/p, rule 0, field spec.rules[0].when[0].key: unknown condition key "source.principals"',
    ],
    [
      "JWT condition",
      `${header()}spec:\n  rules:\n  - when:\n    - key: request.auth.claims[iss]\n      values: [x]\n`,
      "JWT conditions (request.auth.*) are not supported",
    ],
    [
      "request principals",
      `${header()}spec:\n  rules:\n  - from:\n    - source:\n        requestPrincipals: ["*"]\n`,
      "JWT request principals are not supported",
    ],
    ["CUSTOM action", `${header()}spec:\n  action: CUSTOM\n  provider: {name: x}\n`, "action CUSTOM is Istio's hook"],
    [
      "unknown action",
      `${header()}spec:\n  action: REJECT\n`,
      'action must be ALLOW, DENY or AUDIT, got string "REJECT"',
    ],
    [
      "targetRefs",
      `${header()}spec:\n  targetRefs: [{kind: Gateway, name: gw}]\n`,
      "targetRefs (Gateway/Service targets) is not supported",
    ],
    [
      "missing namespace",
      `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n`,
      "metadata.namespace is required",
    ],
    [
      "wrong kind",
      `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: y}\n`,
      "kind must be AuthorizationPolicy",
    ],
    [
      "wrong apiVersion",
      `apiVersion: security.istio.io/v2\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: y}\n`,
      "apiVersion must be one of",
    ],
    [
      "risk level typo",
      `${header()}spec:\n  rules:\n  - when:\n    - key: custom.falco_risk_score\n      values: [lo]\n`,
      '"lo" is not one of: low, medium, high, critical',
    ],
    [
      "alert value that is not a Falco priority",
      `${header()}spec:\n  rules:\n  - when:\n    - key: custom.falco_alert\n      notValues: [high]\n`,
      '"high" is not one of: emergency, alert, critical',
    ],
    [
      "bad fingerprint",
      `${header()}spec:\n  rules:\n  - when:\n    - key: source.certificate_fingerprint\n      values: ["sha256:a1b2c3d4..."]\n`,
      "is not a certificate fingerprint of the form sha256:<64 lowercase hex>",
    ],
    [
      "principal that can never match",
      `${header()}spec:\n  rules:\n  - from:\n    - source:\n        principals: ["Cluster.Local/ns/a/sa/b"]\n`,
      "can never match a SPIFFE ID",
    ],
    [
      "wildcard in the middle",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/api/*/x"]\n`,
      "'*' is only allowed at the start or the end",
    ],
    [
      "bad path template",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/files/{**}/x"]\n`,
      "'{**}' must be the last segment",
    ],
    [
      "bad CIDR",
      `${header()}spec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.0/33"]\n`,
      "invalid prefix length",
    ],
    [
      "bad port",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        ports: ["http"]\n`,
      "is not a port number",
    ],
    [
      "serviceAccounts with principals",
      `${header()}spec:\n  rules:\n  - from:\n    - source:\n        serviceAccounts: [a/b]\n        principals: [x/y]\n`,
      "cannot be combined with serviceAccounts",
    ],
    [
      "condition without values",
      `${header()}spec:\n  rules:\n  - when:\n    - key: source.ip\n`,
      "needs values or notValues",
    ],
    [
      "empty value list",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: []\n`,
      "the list is empty",
    ],
    [
      "wrong type",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: GET\n`,
      "expected a list of strings, got string",
    ],
    ["empty from list", `${header()}spec:\n  rules:\n  - from: []\n`, '"from" must be a non-empty list'],
    [
      "operation without wrapper",
      `${header()}spec:\n  rules:\n  - to:\n    - methods: [GET]\n`,
      'unknown field "methods"',
    ],
    [
      "bad dry-run annotation",
      `${header().replace("namespace: services", "namespace: services\n  annotations: {istio.io/dry-run: yes}")}`,
      'must be "true" or "false"',
    ],
    ["YAML syntax error", `${header()}spec:\n  rules: [\n`, "YAML syntax error"],
    ["duplicate keys", `${header()}spec:\n  action: DENY\n  action: ALLOW\n`, "YAML syntax error"],
  ])("%s", (_name, yaml, expected) => {
    const errors = errorsOf(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join("\n")).toContain(expected);
  });

  it("reports every error in a document, not just the first", () => {
    const errors = errorsOf(
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: []\n        pathz: [/x]\n  - when:\n    - key: nope\n      values: [x]\n`,
    );
    expect(errors).toHaveLength(3);
  });
});
