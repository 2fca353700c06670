// The benchmark's policy set: 50 AuthorizationPolicies shaped like a real mesh — a mesh-wide baseline, one namespace
// with a dozen workload policies (the one the benchmark request goes to), and eight more namespaces of ordinary
// services. The request must pass every DENY in scope and match an ALLOW deep in its namespace.
const header = (ns, name, extra = "") =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}${extra}\n`;

const PIN = "sha256:dde60084579f8d883daa3e2c286b746c9b71e224ffe9dfbf5a6d609962187df5";

export function benchPolicies() {
  let yaml = "";
  // Mesh-wide (root namespace): 4 policies.
  yaml += `${header("istio-system", "deny-foreign-trust-domains")}spec:
  action: DENY
  rules:
  - from: [{source: {principals: ["*"], notTrustDomains: [cluster.local]}}]
${header("istio-system", "require-mtls")}spec:
  action: DENY
  rules:
  - from: [{source: {notPrincipals: ["*"]}}]
    to: [{operation: {notPaths: ["/healthz", "/readyz"]}}]
${header("istio-system", "deny-critical-risk")}spec:
  action: DENY
  rules:
  - to: [{operation: {notPaths: ["/healthz", "/readyz"]}}]
    when: [{key: custom.falco_alert, values: [critical, alert, emergency]}]
${header("istio-system", "audit-admin")}spec:
  action: AUDIT
  rules:
  - to: [{operation: {paths: ["/admin/*"]}}]
`;
  // The services namespace: 12 policies, the last ALLOW is the one that matches.
  const services = [
    "api",
    "order",
    "cart",
    "catalog",
    "search",
    "shipping",
    "inventory",
    "billing",
    "notify",
    "review",
  ];
  for (const svc of services) {
    yaml += `${header("services", `${svc}-allow`)}spec:
  selector: {matchLabels: {app: ${svc}}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/api", "cluster.local/ns/frontend/sa/web"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/v1/${svc}/*", "/api/v1/${svc}"]}}]
    when: [{key: "request.headers[x-request-id]", values: ["*"]}]
`;
  }
  yaml += `${header("services", "deny-admin-paths")}spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin/*", "/debug/*", "/actuator/*"]}}]
  - from: [{source: {namespaces: [frontend]}}]
    to: [{operation: {methods: [DELETE]}}]
${header("services", "payment-allow")}spec:
  selector: {matchLabels: {app: payment}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/refund"]}}]
    to: [{operation: {methods: [POST], paths: ["/api/v1/payment/{*}/refund"]}}]
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order", "cluster.local/ns/services/sa/billing"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/v1/payment/*"]}}]
    when:
    - key: source.certificate_fingerprint
      values: ["${PIN}"]
    - key: source.certificate_subject
      values: ["CN=order.services.svc.cluster.local,*"]
    - key: request.headers[x-request-id]
      values: ["*"]
    - key: custom.falco_risk_score
      values: [low, medium]
`;
  // Eight more namespaces of four policies each: 32.
  for (let n = 0; n < 8; n++) {
    const ns = `team-${n}`;
    for (let s = 0; s < 3; s++) {
      yaml += `${header(ns, `svc-${s}-allow`)}spec:
  selector: {matchLabels: {app: svc-${s}}}
  rules:
  - from: [{source: {namespaces: [${ns}, services]}}]
    to: [{operation: {methods: [GET], paths: ["/v1/*"]}}]
  - from: [{source: {principals: ["cluster.local/ns/${ns}/sa/batch"]}}]
    to: [{operation: {methods: [POST], paths: ["/v1/jobs", "/v1/jobs/{*}"]}}]
`;
    }
    yaml += `${header(ns, "deny-external")}spec:
  action: DENY
  rules:
  - from: [{source: {notIpBlocks: ["10.0.0.0/8"]}}]
`;
  }
  yaml += `${header("frontend", "web-allow")}spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {namespaces: [ingress]}}]
${header("data", "database-allow")}spec:
  selector: {matchLabels: {app: database}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order", "cluster.local/ns/services/sa/payment"]}}]
    when: [{key: custom.falco_risk_score, values: [low, medium]}]
`;
  return yaml;
}

export const BENCH_POLICY_COUNT = 4 + 10 + 2 + 8 * 4 + 2;

/**
 * A policy file of about `bytes` for the reload-under-load row: namespaces of ordinary policies, and one policy with
 * a long rule list (a single policy cannot be split across messages, only its rules can). None of it applies to the
 * benchmark request, so every Check is decided as before; `revision` changes the content so each reload is real.
 */
export function largePolicyFile(bytes, revision) {
  let yaml = `# revision ${revision}\n`;
  let big = `${header("bulk-big", "many-rules")}spec:\n  action: DENY\n  rules:\n`;
  for (let r = 0; big.length < bytes / 4; r++) {
    big += `  - from: [{source: {principals: ["cluster.local/ns/bulk-big/sa/s${r}"]}}]
    to: [{operation: {methods: [DELETE], paths: ["/r${revision}/${r}/*"]}}]
`;
  }
  yaml += big;
  for (let i = 0; ; i++) {
    const policy = ordinaryPolicy(`bulk-${i % 200}`, i, revision);
    if (yaml.length + policy.length > bytes) break;
    yaml += policy;
  }
  return yaml;
}

/** A workload's ALLOW policy with two rules (principals, methods, paths, a header condition; a namespace). */
function ordinaryPolicy(ns, i, revision) {
  return `${header(ns, `p${i}`)}spec:
  selector: {matchLabels: {app: app-${i}}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/${ns}/sa/a${i}", "cluster.local/ns/services/sa/*"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/r${revision}/${i}/*", "/x/{*}/y"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["t${i}", "shared-*"]}]
  - from: [{source: {namespaces: [${ns}]}}]
    to: [{operation: {notMethods: [DELETE]}}]
`;
}

/**
 * Ordinary policies number `first` to `first + count - 1`, spread over `namespaces` namespaces none of which the
 * benchmark request goes to.
 */
export function manyPolicies(first, count, namespaces) {
  let yaml = "";
  for (let i = first; i < first + count; i++) yaml += ordinaryPolicy(`many-${i % namespaces}`, i, 0);
  return yaml;
}
