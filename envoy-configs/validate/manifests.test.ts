// The Istio install: every kustomization renders (with the real kustomize in kubectl when installed) and
// every object it produces validates; the validators themselves are tested on mutated copies.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { checkFilterHeaderTrust, filterHeaderFacts } from "./filter-order.js";
import { formatIssues, type Issue } from "./issues.js";
import {
  checkKustomization,
  checkMeshConfig,
  hasKubectl,
  isComponent,
  kustomizationDirs,
  parseYamlDocuments,
  renderKustomization,
  validateManifest,
} from "./manifests.js";

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are reshaped freely
type Obj = Record<string, any>;

const istioDir = join(import.meta.dirname, "..", "istio");
const read = (rel: string): Obj[] => parseYamlDocuments(readFileSync(join(istioDir, rel), "utf8")).docs as Obj[];
const one = (rel: string): Obj => read(rel)[0] as Obj;

function expectIssue(issues: Issue[], path: string, message: RegExp): void {
  const hit = issues.find((i) => i.path === path && message.test(i.message));
  expect(hit, `expected ${path}: ${message}\ngot:\n${formatIssues(issues)}`).toBeDefined();
}

describe("Istio install (kustomize)", () => {
  const dirs = kustomizationDirs(istioDir);

  it("has the default install and the variants", () => {
    expect(dirs.map((d) => relative(istioDir, d) || ".")).toEqual(
      expect.arrayContaining([".", "base", "custom-authz", "wasm-oci", "wasm-file", "envoyfilter", "monitoring"]),
    );
  });

  it("runs kustomize itself where kubectl is installed", () => {
    // kubectl (with kustomize built in) is part of this project's machine image; without it the tests fall
    // back to reading the resource files, which cannot apply patches.
    if (!hasKubectl()) console.warn("kubectl not found: kustomizations checked as plain resource lists");
    expect(renderKustomization(istioDir).renderer).toBe(hasKubectl() ? "kubectl kustomize" : "resource files only");
  });

  for (const dir of dirs) {
    const name = relative(istioDir, dir) || "(default)";
    it(`${name}: kustomization is well-formed and every rendered object validates`, () => {
      const own = checkKustomization(dir);
      expect(formatIssues(own)).toBe("");
      if (!isComponent(dir)) {
        const rendered = renderKustomization(dir);
        const issues = [...rendered.issues];
        rendered.docs.forEach((doc, i) => {
          const d = doc as Obj;
          issues.push(...validateManifest(doc, `${d?.kind}/${d?.metadata?.name}[${i}]`));
        });
        expect(formatIssues(issues)).toBe("");
        expect(rendered.docs.length).toBeGreaterThan(0);
      }
    });
  }

  it.skipIf(!hasKubectl())(
    "default install: sidecar-free trustgate, 2 replicas, hardened, probes, untrusted filter headers",
    () => {
      const docs = renderKustomization(istioDir).docs as Obj[];
      const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
      const pod = deploy.spec.template.spec;
      const c = pod.containers[0];
      expect(deploy.spec.replicas).toBeGreaterThanOrEqual(2);
      expect(deploy.spec.template.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      // Ready only when serving a policy set (gRPC health); alive whenever the process answers (/healthz), so a slow
      // API server at start-up leaves the pod unready rather than restarting it.
      expect(c.readinessProbe.grpc.port).toBe(9191);
      for (const probe of ["livenessProbe", "startupProbe"]) {
        expect(c[probe].httpGet).toEqual({ port: "http-admin", path: "/healthz" });
      }
      expect(c.env.find((e: Obj) => e.name === "TRUSTGATE_TRUST_FILTER_HEADERS").value).toBe("false");
      expect(docs.map((d) => d.kind).sort()).toEqual(
        [
          "AuthorizationPolicy",
          "Certificate",
          "ClusterRole",
          "ClusterRole",
          "ClusterRoleBinding",
          "ClusterRoleBinding",
          "ConfigMap",
          "ConfigMap",
          "CustomResourceDefinition",
          "Deployment",
          "Issuer",
          "Namespace",
          "NetworkPolicy",
          "PodDisruptionBudget",
          "Role",
          "RoleBinding",
          "Service",
          "Service",
          "ServiceAccount",
          "ValidatingWebhookConfiguration",
        ].sort(),
      );
    },
  );

  it.skipIf(!hasKubectl())("only the EnvoyFilter variant (wasm before ext_authz) trusts the filter's headers", () => {
    const env = (dir: string) => {
      const deploy = (renderKustomization(join(istioDir, dir)).docs as Obj[]).find(
        (d) => d.kind === "Deployment",
      ) as Obj;
      return deploy.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "TRUSTGATE_TRUST_FILTER_HEADERS")
        .value;
    };
    // Istio runs the CUSTOM ext_authz before every WasmPlugin: with a WasmPlugin the headers are still the client's.
    for (const variant of [".", "wasm-oci", "wasm-file"]) expect(env(variant), variant).toBe("false");
    expect(env("envoyfilter")).toBe("true");
  });

  it.skipIf(!hasKubectl())("no install trusts filter headers that a client could have written", () => {
    for (const dir of dirs.filter((d) => !isComponent(d))) {
      const facts = filterHeaderFacts(renderKustomization(dir).docs);
      expect(formatIssues(checkFilterHeaderTrust(facts, relative(istioDir, dir) || "."))).toBe("");
    }
    expect(filterHeaderFacts(renderKustomization(join(istioDir, "envoyfilter")).docs)).toMatchObject({
      trustFilterHeaders: true,
      customAuthz: false,
      wasmBeforeExtAuthz: true,
    });
  });

  it.skipIf(!hasKubectl())("the filter-order check flags a WasmPlugin install that trusts the headers", () => {
    // What wasm-oci rendered to before: CUSTOM ext_authz + WasmPlugin + TRUSTGATE_TRUST_FILTER_HEADERS=true.
    const docs = renderKustomization(join(istioDir, "wasm-oci")).docs as Obj[];
    const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
    deploy.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "TRUSTGATE_TRUST_FILTER_HEADERS").value =
      "true";
    const issues = checkFilterHeaderTrust(filterHeaderFacts(docs), "wasm-oci");
    expectIssue(issues, "wasm-oci", /CUSTOM action's ext_authz runs before every WasmPlugin/);
    expectIssue(issues, "wasm-oci", /nothing inserts the wasm filter before ext_authz/);
    // And an EnvoyFilter that inserts wasm after ext_authz does not count.
    const ef = renderKustomization(join(istioDir, "envoyfilter")).docs as Obj[];
    const wasmPatch = (ef.find((d) => d.kind === "EnvoyFilter") as Obj).spec.configPatches[1];
    wasmPatch.patch.operation = "INSERT_AFTER";
    expectIssue(
      checkFilterHeaderTrust(filterHeaderFacts(ef), "envoyfilter"),
      "envoyfilter",
      /nothing inserts the wasm filter before ext_authz/,
    );
  });

  it("the EnvoyFilter variant does not also install the CUSTOM policy (trustgate would be called twice)", () => {
    const kinds = (renderKustomization(join(istioDir, "envoyfilter")).docs as Obj[]).map((d) => d.kind);
    expect(kinds).toContain("EnvoyFilter");
    expect(kinds).not.toContain("AuthorizationPolicy");
  });

  it("mesh config files declare the trustgate extension provider and validate", () => {
    const operator = one("mesh-config/istio-operator.yaml");
    expect(formatIssues(validateManifest(operator))).toBe("");
    const values = one("mesh-config/istiod-values.yaml");
    expect(formatIssues(checkMeshConfig(values.meshConfig, "meshConfig"))).toBe("");
    expect(values.meshConfig).toEqual(operator.spec.meshConfig);
  });
});

describe("manifest validators on mutated copies", () => {
  it("Deployment: unknown field, wrong type, missing required field", () => {
    const d = one("base/deployment.yaml");
    d.spec.template.spec.containers[0].imagePullPolice = "Always";
    d.spec.replicas = "two";
    delete d.spec.template.spec.containers[0].ports[0].containerPort;
    const issues = validateManifest(d);
    expectIssue(
      issues,
      "spec.template.spec.containers[0].imagePullPolice",
      /unknown field "imagePullPolice" in V1Container/,
    );
    expectIssue(issues, "spec.replicas", /expected a number/);
    expectIssue(issues, "spec.template.spec.containers[0].ports[0].containerPort", /required field "containerPort"/);
  });

  it("Service and NetworkPolicy: unknown fields", () => {
    const s = one("base/service.yaml");
    s.spec.ports[0].app_protocol = "grpc";
    expectIssue(validateManifest(s), "spec.ports[0].app_protocol", /unknown field/);
    const n = one("base/networkpolicy.yaml");
    n.spec.ingress[0].source = [];
    expectIssue(validateManifest(n), "spec.ingress[0].source", /unknown field "source" in V1NetworkPolicyIngressRule/);
  });

  it("AuthorizationPolicy: unknown field, snake_case name, bad action", () => {
    const p = one("custom-authz/authorizationpolicy.yaml");
    p.spec.rules = [{ from: [{ source: { principal: ["cluster.local/ns/a/sa/b"] } }] }];
    expectIssue(validateManifest(p), "spec.rules[0].from[0].source.principal", /unknown field "principal"/);
    const q = one("custom-authz/authorizationpolicy.yaml");
    q.spec.selector = { match_labels: { app: "x" } };
    expectIssue(validateManifest(q), "spec.selector.match_labels", /write it as "matchLabels"/);
    const r = one("custom-authz/authorizationpolicy.yaml");
    r.spec.action = "EXTERNAL";
    expectIssue(validateManifest(r), "spec.action", /unknown value "EXTERNAL"/);
    const t = one("custom-authz/authorizationpolicy.yaml");
    t.spec.rules = [{ when: [{ key: "", values: ["x"] }] }];
    expectIssue(validateManifest(t), "spec.rules[0].when[0].key", /must not be empty/);
  });

  it("WasmPlugin: bad phase, bad sha256, unknown field", () => {
    const w = one("wasm-oci/wasmplugin.yaml");
    w.spec.phase = "AUTHORIZATION";
    w.spec.sha256 = "abc";
    w.spec.failPolicy = "FAIL_CLOSE";
    const issues = validateManifest(w);
    expectIssue(issues, "spec.phase", /unknown value "AUTHORIZATION"/);
    expectIssue(issues, "spec.sha256", /must match/);
    expectIssue(issues, "spec.failPolicy", /unknown field "failPolicy"/);
  });

  it("EnvoyFilter: the Envoy config inside a patch is decoded strictly", () => {
    const f = one("envoyfilter/envoyfilter.yaml");
    f.spec.configPatches[0].patch.value.typed_config.include_peer_certificate = "yes";
    f.spec.configPatches[1].patch.value.typed_config["@type"] =
      "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasmm";
    const issues = validateManifest(f);
    expectIssue(
      issues,
      "spec.configPatches[0].patch.value.typed_config.include_peer_certificate",
      /expected true or false/,
    );
    expectIssue(issues, "spec.configPatches[1].patch.value.typed_config.@type", /unknown @type/);
    const g = one("envoyfilter/envoyfilter.yaml");
    g.spec.configPatches[0].applyTo = "HTTP_FILTERS";
    expectIssue(validateManifest(g), "spec.configPatches[0].applyTo", /unknown value "HTTP_FILTERS"/);
  });

  it("EnvoyFilter MERGE patches are partial objects: present fields checked, absent ones not required", () => {
    const f = one("envoyfilter/envoyfilter.yaml");
    f.spec.configPatches = [
      {
        applyTo: "CLUSTER",
        match: { context: "SIDECAR_OUTBOUND" },
        patch: { operation: "MERGE", value: { connect_timeout: "1s" } },
      },
    ];
    expect(formatIssues(validateManifest(f))).toBe("");
    f.spec.configPatches[0].patch.value.connect_timeout = "0s";
    expectIssue(validateManifest(f), "spec.configPatches[0].patch.value.connect_timeout", /must be > 0s/);
  });

  it("meshConfig: provider fields are checked", () => {
    const values = one("mesh-config/istiod-values.yaml");
    values.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.failClosed = true;
    values.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.port = 70000;
    const issues = checkMeshConfig(values.meshConfig, "meshConfig");
    expectIssue(issues, "meshConfig.extensionProviders[0].envoyExtAuthzGrpc.failClosed", /unknown field/);
    expectIssue(issues, "meshConfig.extensionProviders[0].envoyExtAuthzGrpc.port", /<= 65535, got 70000/);
  });

  it("PrometheusRule: unknown field, bad duration, a rule that is neither alert nor record", () => {
    const r = one("monitoring/prometheusrule.yaml");
    expect(formatIssues(validateManifest(r))).toBe("");
    r.spec.groups[0].rules[0].keepFiring = "5m";
    r.spec.groups[0].rules[1].for = "5 minutes";
    delete r.spec.groups[0].rules[2].alert;
    const issues = validateManifest(r);
    expectIssue(issues, "spec.groups[0].rules[0].keepFiring", /unknown field/);
    expectIssue(issues, "spec.groups[0].rules[1].for", /must match/);
    expectIssue(issues, "spec.groups[0].rules[2]", /one of record, alert is required/);
  });

  it("unknown kinds and missing names are reported, not passed", () => {
    expectIssue(
      validateManifest({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }),
      "",
      /not a kind this validator knows/,
    );
    expectIssue(
      validateManifest({ apiVersion: "v1", kind: "ServiceAccount", metadata: {} }),
      "metadata.name",
      /required/,
    );
  });

  it("kustomization: missing resources and unknown keys are reported", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-kustomize-"));
    try {
      writeFileSync(
        join(dir, "kustomization.yaml"),
        YAML.stringify({
          apiVersion: "kustomize.config.k8s.io/v1beta1",
          kind: "Kustomization",
          resources: ["missing.yaml"],
          patchesStrategicMerge: ["p.yaml"],
        }),
      );
      const issues = checkKustomization(dir);
      expect(issues.some((i) => /missing\.yaml does not exist/.test(i.message))).toBe(true);
      expect(issues.some((i) => /unknown kustomization field "patchesStrategicMerge"/.test(i.message))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every YAML file under envoy-configs/istio parses", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".yaml")) files.push(join(d, e.name));
      }
    };
    walk(istioDir);
    for (const f of files) expect(formatIssues(parseYamlDocuments(readFileSync(f, "utf8")).issues), f).toBe("");
    expect(files.length).toBeGreaterThan(15);
  });
});
