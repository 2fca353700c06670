// Validates Envoy configuration: strict decoding into the upstream v3 protos, then the cross-references
// Envoy itself resolves at load time (clusters named by routes, gRPC services, SDS and the wasm filter's
// revocation poller; unique names; the router last in every HTTP filter chain).
import { childPath, type Issue } from "./issues.js";
import { checkAgainstType } from "./proto-json.js";
import { loadEnvoyApi } from "./proto-root.js";

type Obj = Record<string, unknown>;

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const HTTP_FILTER = "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter";
const HCM_TYPE =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Visits every object in a JSON tree with its path. */
function walk(value: unknown, path: string, visit: (o: Obj, path: string) => void): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], childPath(path, i), visit);
  } else if (isObj(value)) {
    visit(value, path);
    for (const [k, v] of Object.entries(value)) walk(v, childPath(path, k), visit);
  }
}

/** Strictly decodes a message of any Envoy API type (e.g. an HttpFilter inside an Istio EnvoyFilter). */
export function checkEnvoyMessage(typeName: string, value: unknown, path = ""): Issue[] {
  return checkAgainstType(loadEnvoyApi().root, typeName, value, path);
}

export interface ClusterReference {
  cluster: string;
  path: string;
}

/** Every cluster name the configuration refers to, with where it is referenced. */
export function clusterReferences(config: unknown): ClusterReference[] {
  const refs: ClusterReference[] = [];
  walk(config, "", (o, path) => {
    if (isObj(o.route) && typeof o.route.cluster === "string") {
      refs.push({ cluster: o.route.cluster, path: childPath(childPath(path, "route"), "cluster") });
    }
    if (isObj(o.envoy_grpc) && typeof o.envoy_grpc.cluster_name === "string") {
      refs.push({ cluster: o.envoy_grpc.cluster_name, path: childPath(childPath(path, "envoy_grpc"), "cluster_name") });
    }
    if (o["@type"] === WASM_TYPE) {
      const cluster = wasmRevocationCluster(o);
      if (cluster) refs.push({ cluster, path: childPath(path, "config.configuration.value") });
    }
  });
  return refs;
}

/** The cluster the trustgate wasm filter polls for revocations, read from its JSON configuration. */
export function wasmRevocationCluster(wasmTypedConfig: Obj): string | undefined {
  const config = isObj(wasmTypedConfig.config) ? wasmTypedConfig.config : {};
  const configuration = isObj(config.configuration) ? config.configuration : {};
  if (typeof configuration.value !== "string") return undefined;
  try {
    const parsed = JSON.parse(configuration.value) as Obj;
    const revocation = isObj(parsed.revocation) ? parsed.revocation : {};
    return typeof revocation.cluster === "string" ? revocation.cluster : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the HTTP filter chain of one HttpConnectionManager: router last, wasm before ext_authz, names known. */
export function checkHttpFilterChain(filters: unknown[], path: string): Issue[] {
  const issues: Issue[] = [];
  const names = filters.map((f) => (isObj(f) ? f.name : undefined));
  const last = filters[filters.length - 1];
  const lastType = isObj(last) && isObj(last.typed_config) ? last.typed_config["@type"] : undefined;
  if (lastType !== ROUTER_TYPE) {
    issues.push({ path, message: "the last HTTP filter must be the router (envoy.filters.http.router)" });
  }
  filters.slice(0, -1).forEach((f, i) => {
    if (isObj(f) && isObj(f.typed_config) && f.typed_config["@type"] === ROUTER_TYPE) {
      issues.push({ path: childPath(path, i), message: "the router must be the last HTTP filter" });
    }
  });
  const wasm = names.indexOf("envoy.filters.http.wasm");
  const authz = names.indexOf("envoy.filters.http.ext_authz");
  if (wasm >= 0 && authz >= 0 && wasm > authz) {
    issues.push({
      path,
      message: "the trustgate wasm filter must run before ext_authz (it sets the identity headers)",
    });
  }
  const seen = new Set<unknown>();
  names.forEach((n, i) => {
    if (seen.has(n)) issues.push({ path: childPath(path, i), message: `HTTP filter "${String(n)}" appears twice` });
    seen.add(n);
  });
  return issues;
}

/** Full validation of an Envoy bootstrap: proto decoding plus cross-references. */
export function validateEnvoyBootstrap(config: unknown): Issue[] {
  const issues = checkAgainstType(loadEnvoyApi().root, BOOTSTRAP, config);
  if (!isObj(config)) return issues;
  const resources = isObj(config.static_resources) ? config.static_resources : {};

  const clusterNames = new Map<string, number>();
  list(resources.clusters).forEach((c, i) => {
    const path = `static_resources.clusters[${i}]`;
    if (!isObj(c) || typeof c.name !== "string") return;
    if (clusterNames.has(c.name)) issues.push({ path: `${path}.name`, message: `duplicate cluster name "${c.name}"` });
    clusterNames.set(c.name, i);
    const la = isObj(c.load_assignment) ? c.load_assignment : undefined;
    if (la && la.cluster_name !== c.name) {
      issues.push({ path: `${path}.load_assignment.cluster_name`, message: `must equal the cluster name "${c.name}"` });
    }
  });

  const listenerNames = new Set<string>();
  list(resources.listeners).forEach((l, i) => {
    if (isObj(l) && typeof l.name === "string") {
      if (listenerNames.has(l.name)) {
        issues.push({ path: `static_resources.listeners[${i}].name`, message: `duplicate listener name "${l.name}"` });
      }
      listenerNames.add(l.name);
    }
  });

  for (const ref of clusterReferences(config)) {
    if (!clusterNames.has(ref.cluster)) {
      issues.push({ path: ref.path, message: `refers to cluster "${ref.cluster}", which is not defined` });
    }
  }

  walk(config, "", (o, path) => {
    if (o["@type"] !== HCM_TYPE) return;
    issues.push(...checkHttpFilterChain(list(o.http_filters), childPath(path, "http_filters")));
    // Per-route/virtual-host filter settings only take effect for a filter of that name in this chain.
    const names = new Set(list(o.http_filters).map((f) => (isObj(f) ? f.name : undefined)));
    walk(o.route_config, childPath(path, "route_config"), (r, rPath) => {
      if (!isObj(r.typed_per_filter_config)) return;
      for (const key of Object.keys(r.typed_per_filter_config)) {
        if (!names.has(key)) {
          issues.push({
            path: childPath(childPath(rPath, "typed_per_filter_config"), key),
            message: `no HTTP filter named "${key}" in this connection manager`,
          });
        }
      }
    });
  });
  return issues;
}

/** Validates one HTTP filter as written in an EnvoyFilter patch value. */
export function validateHttpFilter(filter: unknown, path: string): Issue[] {
  return checkEnvoyMessage(HTTP_FILTER, filter, path);
}
