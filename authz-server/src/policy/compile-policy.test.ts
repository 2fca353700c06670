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
      values: ["*"]
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
    expect(p.rules[0]!.when[0]!.key).toBe("x-request-id");
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
      "JWT claim key without a name",
      `${header()}spec:\n  rules:\n  - when:\n    - key: request.auth.claims[]\n      values: [x]\n`,
      "should have format request.auth.claims[<name>]",
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
      "targetRefs attaches a policy to a Gateway or Service",
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
      "wildcard in the middle of a trustgate key",
      `${header()}spec:\n  rules:\n  - when:\n    - key: source.certificate_subject\n      values: ["CN=*,O=x"]\n`,
      "'*' is only allowed at the start or the end",
    ],
    [
      "operator after {**}",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/{**}/foo/{*}"]\n`,
      "'{**}' must be the last operator",
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
      "operation whose only field is an empty list",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: []\n`,
      '"to.operation" must not be empty',
    ],
    [
      "wrong type",
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: GET\n`,
      "expected a list of strings, got string",
    ],
    [
      "operation without wrapper",
      `${header()}spec:\n  rules:\n  - to:\n    - methods: [GET]\n`,
      'unknown field "methods"',
    ],
    [
      "bad dry-run annotation",
      `${header().replace("namespace: services", "namespace: services\n  annotations: {istio.io/dry-run: yes}")}`,
      'must be a boolean such as "true" or "false"',
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
      `${header()}spec:\n  rules:\n  - to:\n    - operation:\n        methods: [""]\n        pathz: [/x]\n  - when:\n    - key: nope\n      values: [x]\n`,
    );
    expect(errors).toHaveLength(3);
  });
});

/** A rule body under `spec.rules`, indented for the header above. */
function rule(body: string, action = "ALLOW"): string {
  return `${header()}spec:\n  action: ${action}\n  rules:\n  - ${body}\n`;
}

describe("compilePolicy: what istiod accepts loads", () => {
  it.each([
    [
      "path template with literals after {**}",
      rule(`to: [{operation: {paths: ["/store/{**}/cart", "/{**}/path/template", "/foo/{**}/"]}}]`),
    ],
    ["{*} before {**}", rule(`to: [{operation: {paths: ["/foo/{*}/bar/{**}"]}}]`)],
    [
      "a service account without namespace",
      rule(`from: [{source: {serviceAccounts: [sleep], notServiceAccounts: [bar/x]}}]`),
    ],
    [
      "'*' in the middle of principals, namespaces, hosts, paths, methods",
      rule(
        `from: [{source: {principals: ["cluster.local/ns/*/sa/x"], namespaces: ["team-*-prod"]}}]\n    to: [{operation: {hosts: ["a.*.com"], paths: ["/api/*/users"], methods: ["G*T"]}}]`,
      ),
    ],
    [
      "a principal written with spiffe://",
      rule(`from: [{source: {principals: ["spiffe://cluster.local/ns/a/sa/b"]}}]`),
    ],
    [
      "a principal that is not SPIFFE-shaped",
      rule(`from: [{source: {principals: ["Cluster.Local/ns/a/sa/b", "no-slashes"]}}]`),
    ],
    [
      "JWT fields",
      rule(
        `from: [{source: {requestPrincipals: ["iss/sub", "*"], notRequestPrincipals: ["bad/*"]}}]\n    when:\n    - {key: request.auth.principal, values: ["a/b"]}\n    - {key: request.auth.audiences, values: [x]}\n    - {key: request.auth.presenter, values: [y]}\n    - {key: "request.auth.claims[groups]", values: [g]}\n    - {key: "request.auth.claims[nested][key1]", values: [v]}`,
      ),
    ],
    [
      "remote IPs",
      rule(
        `from: [{source: {remoteIpBlocks: ["1.2.3.4"], notRemoteIpBlocks: ["10.0.0.0/8"]}}]\n    when: [{key: remote.ip, values: ["fd00::/8"]}]`,
      ),
    ],
    [
      "source.trustDomain and trustDomains wildcards",
      rule(
        `from: [{source: {trustDomains: ["cluster.*", "*.example"]}}]\n    when: [{key: source.trustDomain, values: [cluster.local]}]`,
      ),
    ],
    [
      "pseudo-header keys",
      rule(
        `when: [{key: "request.headers[:method]", values: [GET]}, {key: "request.headers[:authority]", values: ["*"]}]`,
      ),
    ],
    [
      "experimental filter metadata",
      rule(`when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}]`),
    ],
    ["port 0 and leading zeros", rule(`to: [{operation: {ports: ["0", "080"]}}]`)],
    ["lower-case and unusual methods", rule(`to: [{operation: {methods: [get, "GET POST"]}}]`)],
    ["an empty when list", rule(`when: []`)],
    [
      "an empty list for a field, next to a field with values",
      rule(`from: [{source: {principals: [], namespaces: [foo]}}]`),
    ],
    [
      "ParseBool dry-run values",
      `${header().replace("namespace: services", 'namespace: services\n  annotations: {istio.io/dry-run: "True"}')}spec:\n  action: DENY\n  rules: [{}]\n`,
    ],
    [
      "dry-run 0",
      `${header().replace("namespace: services", 'namespace: services\n  annotations: {istio.io/dry-run: "0"}')}spec: {}\n`,
    ],
    ["an ALLOW or AUDIT policy without rules", `${header()}spec:\n  action: AUDIT\n`],
  ])("%s", (_name, yaml) => {
    expect(errorsOf(yaml)).toEqual([]);
  });

  it("empty from and to lists are read as absent, as istiod's JSON decoding leaves them unset", () => {
    const { policies, errors } = compileYaml(rule("from: []\n    to: []", "DENY"));
    expect(errors).toEqual([]);
    expect(policies[0]!.rules[0]).toMatchObject({ from: null, to: null, emptyLists: ["from", "to"] });
  });
});

describe("compilePolicy: what istiod refuses is refused, with the reason", () => {
  it.each([
    ["DENY without rules", `${header()}spec:\n  action: DENY\n`, "a DENY policy without rules"],
    ["DENY with an empty rules list", `${header()}spec:\n  action: DENY\n  rules: []\n`, "a DENY policy without rules"],
    [
      "dry-run on AUDIT",
      `${header().replace("namespace: services", 'namespace: services\n  annotations: {istio.io/dry-run: "true"}')}spec:\n  action: AUDIT\n  rules: [{}]\n`,
      "only supported on ALLOW and DENY",
    ],
    ["an empty source", rule("from: [{source: {}}]"), '"from.source" must not be empty'],
    ["a missing source", rule("from: [{}]"), '"from.source" must not be empty'],
    ["an empty operation", rule("to: [{operation: {}}]"), '"to.operation" must not be empty'],
    ["a null rule", `${header()}spec:\n  rules:\n  - null\n`, "a rule must not be null"],
    ["empty path", rule(`to: [{operation: {paths: [""]}}]`), "empty values are not allowed"],
    [
      "empty notValues (once recommended for non-empty headers)",
      rule(`when: [{key: "request.headers[x]", notValues: [""]}]`),
      "empty values are not allowed",
    ],
    ["empty principal", rule(`from: [{source: {notPrincipals: [""]}}]`), "empty values are not allowed"],
    [
      "wildcard service account",
      rule(`from: [{source: {serviceAccounts: ["foo/*"]}}]`),
      "wildcards are not allowed in serviceAccounts",
    ],
    ["service account with two slashes", rule(`from: [{source: {serviceAccounts: ["a/b/c"]}}]`), "expected format"],
    ["service account with an empty part", rule(`from: [{source: {serviceAccounts: ["/b"]}}]`), "expected format"],
    [
      "more than 16 service accounts",
      rule(`from: [{source: {serviceAccounts: [${Array.from({ length: 17 }, (_, i) => `s${i}`).join(", ")}]}}]`),
      "more than 16 values",
    ],
    [
      "serviceAccounts with namespaces",
      rule(`from: [{source: {serviceAccounts: [a], notNamespaces: [b]}}]`),
      "cannot be combined with serviceAccounts",
    ],
    ["trust domain with a slash", rule(`from: [{source: {trustDomains: ["a/b"]}}]`), "cannot contain '/'"],
    [
      "trust domain with a middle wildcard",
      rule(`from: [{source: {trustDomains: ["a*b"]}}]`),
      "only allowed at the start or end",
    ],
    [
      "trust domain with two wildcards",
      rule(`when: [{key: source.trustDomain, values: ["*a*"]}]`),
      "at most one wildcard",
    ],
    ["{*} after {**}", rule(`to: [{operation: {notPaths: ["/a/{**}/{*}"]}}]`), "'{**}' must be the last operator"],
    ["{*} inside a segment", rule(`to: [{operation: {paths: ["/foo/{*}.txt"]}}]`), "'{' and '}' are only allowed"],
    ["a named variable", rule(`to: [{operation: {paths: ["/foo/{name}"]}}]`), "'{' and '}' are only allowed"],
    ["a bare * in a template", rule(`to: [{operation: {paths: ["/*/baz/{*}"]}}]`), "not a valid literal"],
    ["port out of range", rule(`to: [{operation: {ports: ["65536"]}}]`), "not a port number"],
    ["port with a sign", rule(`to: [{operation: {notPorts: ["+80"]}}]`), "not a port number"],
    ["bad IP", rule(`from: [{source: {remoteIpBlocks: ["1.2.3"]}}]`), "is not an IP address"],
    [
      "bad CIDR in a condition",
      rule(`when: [{key: destination.ip, values: ["10.0.0.0/33"]}]`),
      "invalid prefix length",
    ],
    [
      "CIDR prefix with a leading zero",
      rule(`when: [{key: source.ip, values: ["10.0.0.0/08"]}]`),
      "invalid prefix length",
    ],
    ["bad port in a condition", rule(`when: [{key: destination.port, values: ["x"]}]`), "not a port number"],
    [
      "destination.labels",
      rule(`when: [{key: "destination.labels[app]", values: [x]}]`),
      "replaced by the workload selector",
    ],
    [
      "destination.namespace",
      rule(`when: [{key: destination.namespace, values: [x]}]`),
      "replaced by the policy's metadata.namespace",
    ],
    ["destination.user", rule(`when: [{key: destination.user, values: [x]}]`), "only supported in v1alpha1"],
    [
      "a header key without a name",
      rule(`when: [{key: "request.headers[]", values: [x]}]`),
      "should have format request.headers[<name>]",
    ],
    [
      "an unknown key",
      rule(`when: [{key: "request.header[x]", values: [a]}]`),
      'unknown condition key "request.header[x]"',
    ],
    ["an empty key", rule(`when: [{key: "", values: [a]}]`), "a condition needs a non-empty key"],
    ["a condition without values", rule(`when: [{key: source.ip, values: []}]`), "needs values or notValues"],
    [
      "provider without CUSTOM",
      `${header()}spec:\n  action: DENY\n  provider: {name: x}\n  rules: [{}]\n`,
      "provider is only meaningful with action CUSTOM",
    ],
    [
      "a selector with a wildcard",
      `${header()}spec:\n  selector: {matchLabels: {app: "pay*"}}\n`,
      "wildcards are not supported in a selector",
    ],
    [
      "selector and targetRefs",
      `${header()}spec:\n  selector: {matchLabels: {app: x}}\n  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]\n`,
      "targetRefs attaches a policy",
    ],
    [
      "targetRef",
      `${header()}spec:\n  targetRef: {kind: Service, group: "", name: x}\n`,
      "targetRef attaches a policy",
    ],
  ])("%s", (_name, yaml, expected) => {
    const errors = errorsOf(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join("\n")).toContain(expected);
  });
});

describe("compilePolicy: keys named like JavaScript built-ins are ordinary keys", () => {
  // Before, `{key: constructor}` loaded (it found Object.prototype.constructor) and `{key: toString, values: ["x*"]}`
  // turned every Check in the namespace into an internal error.
  it.each(["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"])(
    "when key %s is an unknown key",
    (key) => {
      const errors = errorsOf(rule(`when: [{key: ${key}, values: ["x*"]}]`, "DENY"));
      expect(errors.join("\n")).toContain(`unknown condition key "${key}"`);
    },
  );

  it.each(["constructor", "toString", "__proto__"])("source field %s is an unknown field", (field) => {
    const errors = errorsOf(rule(`from: [{source: {${field}: [x]}}]`, "DENY"));
    expect(errors.join("\n")).toContain(`unknown field "${field}"`);
  });

  it.each(["constructor", "toString", "__proto__"])("header, claim and label %s compile as ordinary names", (name) => {
    const { errors, policies } = compileYaml(
      `${header()}spec:\n  selector: {matchLabels: {${name}: x}}\n  action: DENY\n  rules:\n  - when:\n    - {key: "request.headers[${name === "__proto__" ? "x-proto" : name}]", values: ["x*"]}\n    - {key: "request.auth.claims[${name}]", values: ["x*"]}\n`,
    );
    expect(errors).toEqual([]);
    expect(policies[0]!.selector).toEqual([[name, "x"]]);
  });
});
