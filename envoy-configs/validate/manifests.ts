// Validates Kubernetes/Istio manifests: built-in kinds through k8s.ts, Istio and Prometheus Operator kinds
// through the project's schema .proto (schemas/istio.proto) decoded strictly with lowerCamel names, and the
// Envoy configuration inside EnvoyFilter patches through the upstream Envoy v3 API.
// Kustomize directories are rendered with the real kustomize built into kubectl when it is installed.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { checkCrdSchemas, isInstallCustomKind, validateCustomObject } from "./crd.js";
import { checkEnvoyMessage } from "./envoy-config.js";
import { childPath, type Issue } from "./issues.js";
import { checkModel, validateBuiltin } from "./k8s.js";
import { checkAgainstType } from "./proto-json.js";
import { loadEnvoyApi, loadSchemaRoot } from "./proto-root.js";

type Obj = Record<string, unknown>;

export const istioSchemaFile = join(dirname(fileURLToPath(import.meta.url)), "schemas", "istio.proto");

/** Custom resources this validator knows: apiVersion/kind → schema message of `spec`. */
const CUSTOM_KINDS: Record<string, string> = {
  "security.istio.io/v1/AuthorizationPolicy": "trustgate.schema.istio.AuthorizationPolicy",
  "security.istio.io/v1beta1/AuthorizationPolicy": "trustgate.schema.istio.AuthorizationPolicy",
  "security.istio.io/v1/PeerAuthentication": "trustgate.schema.istio.PeerAuthentication",
  "security.istio.io/v1beta1/PeerAuthentication": "trustgate.schema.istio.PeerAuthentication",
  "extensions.istio.io/v1alpha1/WasmPlugin": "trustgate.schema.istio.WasmPlugin",
  "networking.istio.io/v1alpha3/EnvoyFilter": "trustgate.schema.istio.EnvoyFilter",
  "monitoring.coreos.com/v1/ServiceMonitor": "trustgate.schema.istio.ServiceMonitor",
  "cert-manager.io/v1/Issuer": "trustgate.schema.istio.CertManagerIssuer",
  "cert-manager.io/v1/ClusterIssuer": "trustgate.schema.istio.CertManagerIssuer",
  "cert-manager.io/v1/Certificate": "trustgate.schema.istio.CertManagerCertificate",
  "monitoring.coreos.com/v1/PrometheusRule": "trustgate.schema.istio.PrometheusRule",
};

/** The Envoy message an EnvoyFilter patch value is, by applyTo. */
export const ENVOY_PATCH_TYPES: Record<string, string> = {
  LISTENER: "envoy.config.listener.v3.Listener",
  FILTER_CHAIN: "envoy.config.listener.v3.FilterChain",
  NETWORK_FILTER: "envoy.config.listener.v3.Filter",
  HTTP_FILTER: "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter",
  ROUTE_CONFIGURATION: "envoy.config.route.v3.RouteConfiguration",
  VIRTUAL_HOST: "envoy.config.route.v3.VirtualHost",
  HTTP_ROUTE: "envoy.config.route.v3.Route",
  CLUSTER: "envoy.config.cluster.v3.Cluster",
  EXTENSION_CONFIG: "envoy.config.core.v3.TypedExtensionConfig",
  BOOTSTRAP: "envoy.config.bootstrap.v3.Bootstrap",
  LISTENER_FILTER: "envoy.config.listener.v3.ListenerFilter",
};

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strictly checks a value as one of the project's Istio-side schema messages (lowerCamel names). */
export function checkIstioSchema(typeName: string, value: unknown, path: string): Issue[] {
  return checkAgainstType(loadSchemaRoot(istioSchemaFile), typeName, value, path, { jsonNamesOnly: true });
}

function checkEnvoyFilterPatches(spec: Obj, path: string): Issue[] {
  const issues: Issue[] = [];
  const patches = Array.isArray(spec.configPatches) ? spec.configPatches : [];
  patches.forEach((p, i) => {
    if (!isObj(p) || !isObj(p.patch) || p.patch.value === undefined) return;
    const type = ENVOY_PATCH_TYPES[String(p.applyTo)];
    const at = childPath(childPath(childPath(path, "configPatches"), i), "patch.value");
    if (!type) {
      issues.push({ path: at, message: `no Envoy type known for applyTo ${String(p.applyTo)}` });
      return;
    }
    const partial = p.patch.operation === "MERGE";
    issues.push(...checkAgainstType(loadEnvoyApi().root, type, p.patch.value, at, { partial }));
  });
  return issues;
}

/** IstioOperator: only spec.meshConfig.extensionProviders is in the schema; other spec sections are listed. */
function checkIstioOperator(obj: Obj, path: string): Issue[] {
  const issues: Issue[] = [];
  const spec = isObj(obj.spec) ? obj.spec : {};
  const known = new Set(["profile", "hub", "tag", "revision", "namespace", "meshConfig", "components", "values"]);
  for (const key of Object.keys(spec)) {
    if (!known.has(key))
      issues.push({
        path: childPath(childPath(path, "spec"), key),
        message: `unknown field "${key}" in IstioOperator spec`,
      });
  }
  if (spec.meshConfig !== undefined) {
    issues.push(...checkMeshConfig(spec.meshConfig, childPath(childPath(path, "spec"), "meshConfig")));
  }
  return issues;
}

/** The meshConfig written by this install (extensionProviders only). */
export function checkMeshConfig(meshConfig: unknown, path: string): Issue[] {
  return checkIstioSchema("trustgate.schema.istio.MeshConfigExtensionProviders", meshConfig, path);
}

/** Validates one manifest object. */
export function validateManifest(obj: unknown, path = ""): Issue[] {
  if (!isObj(obj)) return [{ path, message: "a manifest must be an object" }];
  const apiVersion = obj.apiVersion;
  const kind = obj.kind;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return [{ path, message: "apiVersion and kind are required" }];
  }
  const builtin = validateBuiltin(obj, path);
  if (builtin) {
    if (`${apiVersion}/${kind}` === "apiextensions.k8s.io/v1/CustomResourceDefinition") {
      return [...builtin, ...checkCrdSchemas(obj, path)];
    }
    return builtin;
  }
  if (isInstallCustomKind(apiVersion, kind)) {
    const issues: Issue[] = [];
    checkModel("V1ObjectMeta", obj.metadata ?? {}, childPath(path, "metadata"), issues);
    return [...issues, ...validateCustomObject(obj, path)];
  }

  const issues: Issue[] = [];
  for (const key of Object.keys(obj)) {
    if (!["apiVersion", "kind", "metadata", "spec"].includes(key)) {
      issues.push({ path: childPath(path, key), message: `unknown top-level field "${key}"` });
    }
  }
  const meta = obj.metadata;
  checkModel("V1ObjectMeta", meta ?? {}, childPath(path, "metadata"), issues);
  if (!isObj(meta) || typeof meta.name !== "string" || meta.name === "") {
    issues.push({ path: childPath(path, "metadata.name"), message: "metadata.name is required" });
  }
  if (`${apiVersion}/${kind}` === "install.istio.io/v1alpha1/IstioOperator") {
    return [...issues, ...checkIstioOperator(obj, path)];
  }
  const schema = CUSTOM_KINDS[`${apiVersion}/${kind}`];
  if (!schema) return [...issues, { path, message: `${apiVersion} ${kind} is not a kind this validator knows` }];
  issues.push(...checkIstioSchema(schema, obj.spec ?? {}, childPath(path, "spec")));
  if (kind === "EnvoyFilter" && isObj(obj.spec))
    issues.push(...checkEnvoyFilterPatches(obj.spec, childPath(path, "spec")));
  return issues;
}

/** Every document of a multi-document YAML file (empty documents skipped). */
export function parseYamlDocuments(text: string): { docs: unknown[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const docs: unknown[] = [];
  for (const d of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
    for (const e of [...d.errors, ...d.warnings]) issues.push({ path: "", message: `YAML: ${e.message}` });
    const js = d.toJS();
    if (js !== null && js !== undefined) docs.push(js);
  }
  return { docs, issues };
}

// ---- kustomize -----------------------------------------------------------------------------------------

const KUSTOMIZATION_KEYS = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "resources",
  "components",
  "namespace",
  "namePrefix",
  "nameSuffix",
  "labels",
  "commonLabels",
  "commonAnnotations",
  "patches",
  "configMapGenerator",
  "secretGenerator",
  "generatorOptions",
  "images",
  "replicas",
]);

/** Checks a kustomization.yaml's own keys and that every file and directory it names exists. */
export function checkKustomization(dir: string): Issue[] {
  const file = join(dir, "kustomization.yaml");
  const where = file;
  if (!existsSync(file)) return [{ path: where, message: "kustomization.yaml not found" }];
  const k = YAML.parse(readFileSync(file, "utf8")) as Obj;
  const issues: Issue[] = [];
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key))
      issues.push({ path: `${where}: ${key}`, message: `unknown kustomization field "${key}"` });
  }
  const kustomization = k.apiVersion === "kustomize.config.k8s.io/v1beta1" && k.kind === "Kustomization";
  const component = k.apiVersion === "kustomize.config.k8s.io/v1alpha1" && k.kind === "Component";
  if (!kustomization && !component) {
    issues.push({
      path: where,
      message: "apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization or v1alpha1 Component",
    });
  }
  const exists = (rel: string, at: string) => {
    const full = join(dir, rel);
    if (!existsSync(full)) issues.push({ path: `${where}: ${at}`, message: `${rel} does not exist` });
    else if (statSync(full).isDirectory() && !existsSync(join(full, "kustomization.yaml"))) {
      issues.push({ path: `${where}: ${at}`, message: `${rel} is a directory without kustomization.yaml` });
    }
  };
  (Array.isArray(k.resources) ? k.resources : []).forEach((r, i) => {
    exists(String(r), `resources[${i}]`);
  });
  (Array.isArray(k.components) ? k.components : []).forEach((r, i) => {
    exists(String(r), `components[${i}]`);
  });
  (Array.isArray(k.patches) ? k.patches : []).forEach((p, i) => {
    if (isObj(p) && typeof p.path === "string") exists(p.path, `patches[${i}].path`);
  });
  (Array.isArray(k.configMapGenerator) ? k.configMapGenerator : []).forEach((g, i) => {
    const files = isObj(g) && Array.isArray(g.files) ? g.files : [];
    files.forEach((f, j) => {
      exists(String(f).split("=").pop() as string, `configMapGenerator[${i}].files[${j}]`);
    });
  });
  return issues;
}

export interface Rendered {
  renderer: "kubectl kustomize" | "resource files only";
  docs: unknown[];
  issues: Issue[];
}

let kubectlAvailable: boolean | undefined;

/** True when `kubectl kustomize` can run here (kubectl ships kustomize built in). */
export function hasKubectl(): boolean {
  if (kubectlAvailable === undefined) {
    kubectlAvailable = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
  }
  return kubectlAvailable;
}

function resourceFiles(dir: string, out: string[] = []): string[] {
  const k = YAML.parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Obj;
  for (const r of Array.isArray(k.resources) ? k.resources : []) {
    const full = join(dir, String(r));
    if (existsSync(full) && statSync(full).isDirectory()) resourceFiles(full, out);
    else out.push(full);
  }
  return out;
}

const rendered = new Map<string, Rendered>();

/**
 * Builds a kustomization like `kubectl apply -k` does (real kustomize), or lists its resources without kubectl.
 * Results are kept for the life of the process (the files do not change while tests run); copy before mutating.
 */
export function renderKustomization(dir: string): Rendered {
  let result = rendered.get(dir);
  if (!result) {
    result = buildKustomization(dir);
    rendered.set(dir, result);
  }
  return structuredClone(result);
}

function buildKustomization(dir: string): Rendered {
  if (hasKubectl()) {
    const run = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", maxBuffer: 32 * 1024 * 1024 });
    if (run.status !== 0) {
      return {
        renderer: "kubectl kustomize",
        docs: [],
        issues: [{ path: dir, message: `kustomize failed: ${run.stderr.trim()}` }],
      };
    }
    const { docs, issues } = parseYamlDocuments(run.stdout);
    return { renderer: "kubectl kustomize", docs, issues };
  }
  const docs: unknown[] = [];
  const issues: Issue[] = [];
  for (const f of resourceFiles(dir)) {
    const parsed = parseYamlDocuments(readFileSync(f, "utf8"));
    docs.push(...parsed.docs);
    issues.push(...parsed.issues.map((i) => ({ ...i, path: `${f}: ${i.path}` })));
  }
  return { renderer: "resource files only", docs, issues };
}

/** True for a kustomize Component (applied through other kustomizations, not built on its own). */
export function isComponent(dir: string): boolean {
  return (YAML.parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Obj).kind === "Component";
}

/** Every kustomization directory under `root` (including root itself). */
export function kustomizationDirs(root: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    if (existsSync(join(d, "kustomization.yaml"))) out.push(d);
    for (const e of readdirSync(d)) {
      const full = join(d, e);
      if (statSync(full).isDirectory()) visit(full);
    }
  };
  visit(root);
  return out.sort();
}

/** The Envoy HttpFilter values of every HTTP_FILTER patch in a set of documents (for consistency checks). */
export function envoyFilterHttpFilters(docs: unknown[]): Obj[] {
  const out: Obj[] = [];
  for (const d of docs) {
    if (!isObj(d) || d.kind !== "EnvoyFilter" || !isObj(d.spec)) continue;
    for (const p of Array.isArray(d.spec.configPatches) ? d.spec.configPatches : []) {
      if (isObj(p) && p.applyTo === "HTTP_FILTER" && isObj(p.patch) && isObj(p.patch.value)) out.push(p.patch.value);
    }
  }
  return out;
}

export { checkEnvoyMessage };
