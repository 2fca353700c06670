// What a real install would get wrong although every object validates: the semantic checks of install-semantics.ts
// on every install (they must pass) and on mutated copies (each must report the defect it guards against).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { resolveConfig } from "../../authz-server/src/config/load-config.js";
import {
  checkCustomPolicies,
  checkDeployment,
  checkEnvoyFilter,
  checkExtAuthzFilter,
  checkExtensionProvider,
  checkFilterOrder,
  checkNetworkPolicy,
  checkNoIgnoredPeerAuthentication,
  checkRbac,
  checkRuleMetrics,
  checkStrictMtlsTemplate,
  checkWasmPlugins,
  checkWebhook,
  exportedMetrics,
  KUBE_ACCESS,
  kubeClientMethods,
  type ResolvedFacts,
} from "./install-semantics.js";
import { formatIssues, type Issue } from "./issues.js";
import { hasKubectl, isComponent, kustomizationDirs, renderKustomization } from "./manifests.js";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are reshaped freely
type Obj = Record<string, any>;

const here = import.meta.dirname;
const repo = join(here, "..", "..");
const istioDir = join(here, "..", "istio");
const installs = kustomizationDirs(istioDir)
  .filter((d) => !isComponent(d) && ["base", "custom-authz", "strict-mtls", "monitoring"].every((x) => !d.endsWith(x)))
  .map((d) => relative(istioDir, d) || ".");
const render = (dir: string): Obj[] => structuredClone(renderKustomization(join(istioDir, dir)).docs as Obj[]);
const meshConfig = YAML.parse(readFileSync(join(istioDir, "mesh-config/istiod-values.yaml"), "utf8")).meshConfig;
const providerTimeout = 0.25;
const service = { host: "trustgate.trustgate-system.svc.cluster.local", port: 9191 };

function expectIssue(issues: Issue[], message: RegExp): void {
  expect(
    issues.some((i) => message.test(i.message)),
    `expected ${message}\ngot:\n${formatIssues(issues)}`,
  ).toBe(true);
}

/** workers and shutdownGraceSeconds as trustgate resolves them from the ConfigMap and the Deployment's env. */
function resolved(docs: Obj[]): ResolvedFacts {
  const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
  const cm = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name.startsWith("trustgate-config")) as Obj;
  const env = Object.fromEntries(
    deploy.spec.template.spec.containers[0].env
      .filter((e: Obj) => typeof e.value === "string")
      .map((e: Obj) => [e.name, e.value]),
  );
  const r = resolveConfig(YAML.parse(cm.data["trustgate.yaml"]), env, {}, "trustgate.yaml");
  if (!r.ok) throw new Error(r.error);
  return { workers: r.config.workers, shutdownGraceSeconds: r.config.shutdownGraceSeconds };
}

const bootstrap = (name: string): Obj =>
  YAML.parse(readFileSync(join(here, "..", "compose", "envoy", `${name}.yaml`), "utf8"));
const inbound = (b: Obj): Obj[] =>
  b.static_resources.listeners.find((l: Obj) => l.name === "inbound").filter_chains[0].filters[0].typed_config
    .http_filters;
const composeWorkloads = ["api", "billing", "cache", "database", "order", "payment", "web"];

describe("ext_authz settings", () => {
  it("the mesh's extension provider fails closed, fast, with 503, at trustgate's gRPC Service", () => {
    expect(formatIssues(checkExtensionProvider(meshConfig, service))).toBe("");
    const m = structuredClone(meshConfig);
    const g = m.extensionProviders[0].envoyExtAuthzGrpc;
    g.failOpen = true;
    g.timeout = undefined;
    g.statusOnError = "403";
    g.includeRequestBodyInCheck = { maxRequestBytes: 1_000_000 };
    g.port = 9192;
    const issues = checkExtensionProvider(m, service);
    for (const re of [/must be false/, /600s/, /"503"/, /no body/, /must be 9191/]) expectIssue(issues, re);
    expectIssue(checkExtensionProvider({ extensionProviders: [{ name: "tg" }] }, service), /no provider named/);
  });

  it("compose sidecars: wasm → ext_authz → router, ext_authz fail-closed like the provider", () => {
    for (const w of composeWorkloads) {
      const filters = inbound(bootstrap(w));
      expect(formatIssues(checkFilterOrder(filters, w))).toBe("");
      const authz = filters.find((f) => f.name === "envoy.filters.http.ext_authz") as Obj;
      expect(formatIssues(checkExtAuthzFilter(authz.typed_config, w, providerTimeout))).toBe("");
    }
    const filters = inbound(bootstrap("order"));
    const [wasm, extAuthz, router] = [filters[0]!, filters[1]!, filters[2]!];
    expectIssue(checkFilterOrder([extAuthz, wasm, router], "order"), /wasm filter must run before/);
    expectIssue(
      checkFilterOrder([wasm, extAuthz, { name: "envoy.filters.http.jwt_authn" }, router], "order"),
      /jwt_authn must run before/,
    );
    const authz = structuredClone(extAuthz.typed_config);
    authz.failure_mode_allow = true;
    authz.transport_api_version = undefined;
    authz.status_on_error = { code: "Forbidden" };
    authz.with_request_body = { max_request_bytes: 8192 };
    const issues = checkExtAuthzFilter(authz, "order", providerTimeout);
    for (const re of [/fail closed/, /V3/, /ServiceUnavailable/, /no body/]) expectIssue(issues, re);
  });

  it.skipIf(!hasKubectl())("EnvoyFilter: inbound sidecar listener, ext_authz like the provider", () => {
    const ef = render("envoyfilter").find((d) => d.kind === "EnvoyFilter") as Obj;
    expect(formatIssues(checkEnvoyFilter(ef, providerTimeout, "EnvoyFilter"))).toBe("");
    ef.spec.configPatches[0].match.context = "SIDECAR_OUTBOUND";
    ef.spec.configPatches[0].patch.value.typed_config.failure_mode_allow = true;
    ef.spec.workloadSelector.labels = { app: "x" };
    const issues = checkEnvoyFilter(ef, providerTimeout, "EnvoyFilter");
    for (const re of [/SIDECAR_INBOUND/, /fail closed/, /opt-in label/]) expectIssue(issues, re);
  });
});

describe.skipIf(!hasKubectl())("every install", () => {
  it("covers the default install and the variants", () => {
    expect(installs).toEqual(
      expect.arrayContaining([".", "wasm-oci", "wasm-file", "envoyfilter", "manual-webhook-cert"]),
    );
  });

  for (const dir of installs) {
    it(`${dir}: CUSTOM policy, WasmPlugin, no ignored PeerAuthentication, Deployment, NetworkPolicy, RBAC, webhook`, () => {
      const docs = render(dir);
      const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
      const issues = [
        ...checkCustomPolicies(docs),
        ...checkWasmPlugins(docs),
        ...checkNoIgnoredPeerAuthentication(docs),
        ...checkDeployment(deploy, resolved(docs)),
        ...checkNetworkPolicy(docs),
        ...checkRbac(docs),
        ...checkWebhook(docs),
      ];
      expect(formatIssues(issues)).toBe("");
    });
  }

  it("CUSTOM policy: provider name, root namespace, rules", () => {
    const docs = render(".");
    const p = docs.find((d) => d.kind === "AuthorizationPolicy") as Obj;
    p.spec.provider.name = "trustgate-authz";
    p.metadata.namespace = "default";
    p.spec.rules = undefined;
    const issues = checkCustomPolicies(docs);
    for (const re of [/meshConfig provider/, /every namespace/, /never calls the provider/]) expectIssue(issues, re);
  });

  it("WasmPlugin: fail open, outbound, no mTLS requirement", () => {
    const docs = render("wasm-oci");
    const w = docs.find((d) => d.kind === "WasmPlugin") as Obj;
    w.spec.failStrategy = "FAIL_OPEN";
    w.spec.match = [{ mode: "CLIENT" }];
    w.spec.pluginConfig.requireMtls = false;
    const issues = checkWasmPlugins(docs);
    for (const re of [/FAIL_CLOSE/, /inbound requests/, /must be true/]) expectIssue(issues, re);
  });

  it("PeerAuthentication: the per-namespace template is STRICT; a selector in the root namespace is refused", () => {
    const template = render("strict-mtls");
    expect(formatIssues(checkStrictMtlsTemplate(template))).toBe("");
    const permissive = structuredClone(template);
    (permissive.find((d) => d.kind === "PeerAuthentication") as Obj).spec.mtls.mode = "PERMISSIVE";
    expectIssue(checkStrictMtlsTemplate(permissive), /expected one STRICT PeerAuthentication/);
    const ignored = structuredClone(template);
    (ignored.find((d) => d.kind === "PeerAuthentication") as Obj).metadata.namespace = "istio-system";
    expectIssue(checkNoIgnoredPeerAuthentication(ignored), /where Istio ignores such policies/);
  });

  it("Deployment: workers: auto with no CPU limit, memory for the processes, drain on termination", () => {
    const docs = render(".");
    const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
    const facts = resolved(docs);
    expect(facts.workers).not.toBe("auto");
    const c = deploy.spec.template.spec.containers[0];
    expectIssue(checkDeployment(deploy, { ...facts, workers: "auto" }), /one process per CPU of the node/);
    c.resources.limits.memory = "256Mi";
    expectIssue(checkDeployment(deploy, facts), /need at least 3 x 128Mi/);
    c.lifecycle = undefined;
    expectIssue(checkDeployment(deploy, facts), /sidecars keep calling a terminating pod/);
    deploy.spec.template.spec.terminationGracePeriodSeconds = 10;
    expectIssue(checkDeployment(deploy, facts), /kills trustgate mid-drain/);
    c.livenessProbe.httpGet.path = "/readyz";
    c.readinessProbe = { httpGet: { port: "http-admin", path: "/health" } };
    const issues = checkDeployment(deploy, facts);
    expectIssue(issues, /GET \/healthz on the admin port/);
    expectIssue(issues, /gRPC health on 9191 or GET \/readyz/);
  });

  it("NetworkPolicy: the admin port to sidecars only where the wasm filter polls it", () => {
    const docs = render(".");
    const np = docs.find((d) => d.kind === "NetworkPolicy") as Obj;
    np.spec.ingress[0].ports.push({ protocol: "TCP", port: 9192 });
    expectIssue(checkNetworkPolicy(docs), /only the wasm filter's revocation poll needs it/);
    const wasm = render("wasm-file");
    const wnp = wasm.find((d) => d.kind === "NetworkPolicy") as Obj;
    wnp.spec.ingress[0].ports = [{ protocol: "TCP", port: 9191 }];
    expectIssue(checkNetworkPolicy(wasm), /sidecars may reach 9191, 9192/);
    np.spec.ingress[0].from[0].podSelector.matchLabels = { "security.istio.io/tlsMode": "istio" };
    np.spec.ingress.push({ ports: [{ protocol: "TCP", port: 9192 }] });
    const issues = checkNetworkPolicy(docs);
    expectIssue(issues, /must be an opted-in sidecar/);
    expectIssue(issues, /only the webhook port 9443 may be open to every source/);
  });

  it("RBAC: exactly what the code does, and the code does only that", () => {
    // The kube client's HTTP methods per file: a new call must come with its RBAC (and this table).
    expect(kubeClientMethods(join(repo, "authz-server", "src", "kube"))).toEqual({
      "leader-election.ts": ["GET", "POST", "PUT"],
      "list-watch.ts": ["GET"],
      "pod-directory.ts": ["GET"],
      "status-reporter.ts": ["PATCH"],
    });
    expect(Object.keys(KUBE_ACCESS).sort()).toEqual([
      "leases",
      "pods",
      "trustgatepolicies",
      "trustgatepolicies/status",
    ]);
    const docs = render(".");
    const policyRole = docs.find(
      (d) => d.kind === "ClusterRole" && d.metadata.name === "trustgate-policy-reader",
    ) as Obj;
    policyRole.rules[0].verbs.push("update");
    const podRole = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === "trustgate-pod-reader") as Obj;
    podRole.rules.push({ apiGroups: [""], resources: ["secrets"], verbs: ["get"] });
    const issues = checkRbac(docs);
    expectIssue(issues, /verb update on trustgatepolicies/);
    expectIssue(issues, /grants secrets/);
    const lease = docs.find((d) => d.kind === "Role") as Obj;
    lease.rules = lease.rules.filter((r: Obj) => !r.verbs.includes("create"));
    expectIssue(checkRbac(docs), /needs create on leases/);
  });

  it("webhook: Fail, no side effects, short timeout, the certificate names the Service", () => {
    const docs = render(".");
    const vwc = docs.find((d) => d.kind === "ValidatingWebhookConfiguration") as Obj;
    vwc.webhooks[0].failurePolicy = "Ignore";
    vwc.webhooks[0].sideEffects = "Some";
    vwc.webhooks[0].timeoutSeconds = 30;
    vwc.webhooks[0].rules[0].resources.push("trustgatepolicies/status");
    (docs.find((d) => d.kind === "Certificate") as Obj).spec.dnsNames = ["trustgate.trustgate-system.svc"];
    const issues = checkWebhook(docs);
    for (const re of [
      /must be Fail/,
      /must be None/,
      /1-10 s/,
      /only trustgatepolicies/,
      /must include trustgate-webhook/,
    ])
      expectIssue(issues, re);
  });

  it("redis-sharing: both replicas get the Redis URL and event key from the Secret", () => {
    const tmp = mkdtempSync(join(tmpdir(), "trustgate-redis-"));
    try {
      writeFileSync(
        join(tmp, "kustomization.yaml"),
        YAML.stringify({
          apiVersion: "kustomize.config.k8s.io/v1beta1",
          kind: "Kustomization",
          resources: [relative(tmp, istioDir)],
          components: [relative(tmp, join(istioDir, "redis-sharing"))],
        }),
      );
      const docs = renderKustomization(tmp).docs as Obj[];
      expect(formatIssues(renderKustomization(tmp).issues)).toBe("");
      const c = (docs.find((d) => d.kind === "Deployment") as Obj).spec.template.spec.containers[0];
      const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e]));
      expect(env.TRUSTGATE_REDIS_URL.valueFrom.secretKeyRef).toEqual({ name: "trustgate-redis", key: "url" });
      const keyFile = env.TRUSTGATE_REDIS_EVENT_KEY_FILE.value as string;
      expect(c.volumeMounts.some((m: Obj) => keyFile.startsWith(`${m.mountPath}/`) && m.name === "redis")).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("alert rules", () => {
  it("reference only metrics trustgate exports", () => {
    const exported = exportedMetrics(join(repo, "authz-server", "src"));
    const rules = readFileSync(join(here, "..", "observability", "prometheus", "trustgate-rules.yaml"), "utf8");
    expect(formatIssues(checkRuleMetrics(rules, exported))).toBe("");
    expectIssue(
      checkRuleMetrics(rules.replace("trustgate_falco_feed_fresh", "trustgate_falco_feed_is_fresh"), exported),
      /trustgate_falco_feed_is_fresh is not a metric/,
    );
  });
});
