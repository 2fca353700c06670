// Semantic checks of an install: what the schemas accept but a real cluster would get wrong or weaker than intended.
// Each function takes rendered objects (or one Envoy filter config) and returns the problems it finds; the tests in
// install-semantics.test.ts run them on every install and on mutated copies.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { parseDuration } from "./duration.js";
import type { Issue } from "./issues.js";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked loosely
type Obj = Record<string, any>;

/** The label that opts a workload in; every object that makes sidecars call trustgate selects on it. */
export const OPT_IN = { "trustgate.io/authz": "enabled" } as const;
/** The provider name the mesh config registers and the CUSTOM policy names. */
export const PROVIDER = "trustgate";
export const ROOT_NAMESPACE = "istio-system";
/** Longest ext_authz timeout worth having: every opted-in request waits for it when trustgate is slow. */
export const MAX_AUTHZ_TIMEOUT_S = 1;
/** Memory one trustgate process needs under load (README, "Workers": about 122 MB peak). */
export const MEMORY_PER_PROCESS = 128 * 1024 * 1024;

const sameLabels = (a: unknown, b: Record<string, string>) =>
  JSON.stringify(Object.entries((a ?? {}) as Obj).sort()) === JSON.stringify(Object.entries(b).sort());

const seconds = (d: unknown): number | undefined => {
  if (typeof d !== "string") return undefined;
  const p = parseDuration(d);
  return p === null ? undefined : p.seconds + p.nanos / 1e9;
};

const bytes = (q: unknown): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(q ?? ""));
  if (m === null) return undefined;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
};

// ---- ext_authz: Istio's extension provider and Envoy's filter ---------------------------------------------------

/** meshConfig.extensionProviders: the trustgate provider fails closed, fast, and points at trustgate's gRPC port. */
export function checkExtensionProvider(meshConfig: Obj, service: { host: string; port: number }): Issue[] {
  const issues: Issue[] = [];
  const i = (meshConfig.extensionProviders ?? []).findIndex((p: Obj) => p.name === PROVIDER);
  if (i < 0) return [{ path: "extensionProviders", message: `no provider named "${PROVIDER}"` }];
  const path = `extensionProviders[${i}].envoyExtAuthzGrpc`;
  const g = meshConfig.extensionProviders[i].envoyExtAuthzGrpc as Obj | undefined;
  if (g === undefined) return [{ path, message: "trustgate is a gRPC ext_authz server: use envoyExtAuthzGrpc" }];
  if (g.failOpen !== false)
    issues.push({ path: `${path}.failOpen`, message: "must be false: an unreachable trustgate must deny, not allow" });
  const t = seconds(g.timeout);
  if (t === undefined || t <= 0 || t > MAX_AUTHZ_TIMEOUT_S)
    issues.push({
      path: `${path}.timeout`,
      message: `set it (Istio's default is 600s, every request then hangs on a stuck trustgate), at most ${MAX_AUTHZ_TIMEOUT_S}s`,
    });
  if (g.statusOnError !== "503")
    issues.push({ path: `${path}.statusOnError`, message: 'must be "503", told apart from a policy deny (403)' });
  if (g.includeRequestBodyInCheck !== undefined)
    issues.push({
      path: `${path}.includeRequestBodyInCheck`,
      message: "trustgate decides on no body; do not buffer it",
    });
  if (g.service !== service.host && g.service !== `${service.host.split(".")[1]}/${service.host}`)
    issues.push({ path: `${path}.service`, message: `must be trustgate's Service ${service.host}, got ${g.service}` });
  if (g.port !== service.port) issues.push({ path: `${path}.port`, message: `must be ${service.port} (grpc)` });
  return issues;
}

/** An Envoy ext_authz filter config (compose bootstraps, the EnvoyFilter patch) with the settings trustgate needs. */
export function checkExtAuthzFilter(c: Obj, path: string, timeoutSeconds: number): Issue[] {
  const issues: Issue[] = [];
  if (c.failure_mode_allow !== false)
    issues.push({ path: `${path}.failure_mode_allow`, message: "must be false (fail closed)" });
  if (c.transport_api_version !== "V3")
    issues.push({
      path: `${path}.transport_api_version`,
      message: "must be V3 (trustgate serves envoy.service.auth.v3)",
    });
  if (c.status_on_error?.code !== "ServiceUnavailable")
    issues.push({ path: `${path}.status_on_error`, message: "must be ServiceUnavailable (503), as the mesh provider" });
  if (c.include_peer_certificate !== true)
    issues.push({ path: `${path}.include_peer_certificate`, message: "certificate facts need the peer certificate" });
  if (c.grpc_service?.envoy_grpc === undefined)
    issues.push({ path: `${path}.grpc_service`, message: "trustgate speaks gRPC: grpc_service.envoy_grpc" });
  if (seconds(c.grpc_service?.timeout) !== timeoutSeconds)
    issues.push({ path: `${path}.grpc_service.timeout`, message: `must be ${timeoutSeconds}s like the mesh provider` });
  if (c.with_request_body !== undefined)
    issues.push({ path: `${path}.with_request_body`, message: "trustgate decides on no body; do not buffer it" });
  const ns = c.metadata_context_namespaces ?? [];
  if (!ns.includes("envoy.filters.http.jwt_authn"))
    issues.push({ path: `${path}.metadata_context_namespaces`, message: "must list envoy.filters.http.jwt_authn" });
  return issues;
}

/** An HTTP filter chain: wasm (if any) → jwt_authn (if any) → ext_authz → router. */
export function checkFilterOrder(filters: Obj[], path: string): Issue[] {
  const at = (name: string) => filters.findIndex((f) => f.name === name);
  const [wasm, jwt, authz, router] = [
    at("envoy.filters.http.wasm"),
    at("envoy.filters.http.jwt_authn"),
    at("envoy.filters.http.ext_authz"),
    at("envoy.filters.http.router"),
  ];
  const issues: Issue[] = [];
  if (authz < 0) return [{ path, message: "no ext_authz filter" }];
  if (wasm > authz)
    issues.push({ path, message: "the wasm filter must run before ext_authz (it sets trusted headers)" });
  if (jwt > authz)
    issues.push({ path, message: "jwt_authn must run before ext_authz (its metadata is sent to trustgate)" });
  if (router !== filters.length - 1 || router < authz) issues.push({ path, message: "the router must be last" });
  return issues;
}

/** EnvoyFilter patches: on the inbound sidecar listener, and the ext_authz they insert checked as above. */
export function checkEnvoyFilter(ef: Obj, timeoutSeconds: number, path: string): Issue[] {
  const issues: Issue[] = [];
  if (!sameLabels(ef.spec?.workloadSelector?.labels, OPT_IN))
    issues.push({
      path: `${path}.spec.workloadSelector`,
      message: "must select the opt-in label trustgate.io/authz=enabled",
    });
  (ef.spec?.configPatches ?? []).forEach((p: Obj, i: number) => {
    const pp = `${path}.spec.configPatches[${i}]`;
    if (p.match?.context !== "SIDECAR_INBOUND")
      issues.push({
        path: `${pp}.match.context`,
        message: "must be SIDECAR_INBOUND: authorization happens at the destination",
      });
    if (p.match?.listener?.filterChain?.filter?.name !== "envoy.filters.network.http_connection_manager")
      issues.push({ path: `${pp}.match.listener`, message: "must match the http_connection_manager's filter chain" });
    const v = p.patch?.value;
    if (v?.name === "envoy.filters.http.ext_authz")
      issues.push(...checkExtAuthzFilter(v.typed_config ?? {}, `${pp}.patch.value.typed_config`, timeoutSeconds));
  });
  return issues;
}

// ---- the objects that send requests to trustgate ---------------------------------------------------------------

/** CUSTOM AuthorizationPolicies name the registered provider, sit in the root namespace and match requests. */
export function checkCustomPolicies(docs: Obj[]): Issue[] {
  const issues: Issue[] = [];
  for (const d of docs.filter((x) => x.kind === "AuthorizationPolicy" && x.spec?.action === "CUSTOM")) {
    const path = `AuthorizationPolicy/${d.metadata?.name}`;
    if (d.spec.provider?.name !== PROVIDER)
      issues.push({ path: `${path}.spec.provider.name`, message: `must be "${PROVIDER}", the meshConfig provider` });
    if (d.metadata?.namespace !== ROOT_NAMESPACE)
      issues.push({
        path: `${path}.metadata.namespace`,
        message: `must be ${ROOT_NAMESPACE} to select workloads of every namespace`,
      });
    if (!sameLabels(d.spec.selector?.matchLabels, OPT_IN))
      issues.push({
        path: `${path}.spec.selector`,
        message: "must select the opt-in label trustgate.io/authz=enabled",
      });
    if (!Array.isArray(d.spec.rules) || d.spec.rules.length === 0)
      issues.push({
        path: `${path}.spec.rules`,
        message: "a CUSTOM policy without rules never calls the provider: use [{}]",
      });
  }
  return issues;
}

/** WasmPlugins of trustgate's filter: inbound HTTP only, fail closed, mTLS required, on the opted-in workloads. */
export function checkWasmPlugins(docs: Obj[]): Issue[] {
  const issues: Issue[] = [];
  for (const d of docs.filter((x) => x.kind === "WasmPlugin")) {
    const path = `WasmPlugin/${d.metadata?.name}.spec`;
    const s = d.spec ?? {};
    if (s.failStrategy !== "FAIL_CLOSE")
      issues.push({
        path: `${path}.failStrategy`,
        message: "must be FAIL_CLOSE: a filter that did not load must not be skipped",
      });
    if (s.type !== "HTTP") issues.push({ path: `${path}.type`, message: "must be HTTP" });
    if (JSON.stringify(s.match) !== JSON.stringify([{ mode: "SERVER" }]))
      issues.push({ path: `${path}.match`, message: "must be [{mode: SERVER}]: the filter works on inbound requests" });
    if (!sameLabels(s.selector?.matchLabels, OPT_IN))
      issues.push({ path: `${path}.selector`, message: "must select the opt-in label trustgate.io/authz=enabled" });
    if (s.pluginConfig?.requireMtls !== true)
      issues.push({ path: `${path}.pluginConfig.requireMtls`, message: "must be true" });
    if (typeof s.url === "string" && s.url.startsWith("oci://") && s.imagePullPolicy === "Always")
      issues.push({
        path: `${path}.imagePullPolicy`,
        message: "Always re-pulls on every push of config; use IfNotPresent with a fixed tag",
      });
  }
  return issues;
}

/** Does this install send requests to trustgate, and does it run the wasm filter (which polls the admin port)? */
export function installFacts(docs: Obj[]): { sendsChecks: boolean; runsWasm: boolean } {
  const envoyFilterWasm = docs.some(
    (d) =>
      d.kind === "EnvoyFilter" &&
      (d.spec?.configPatches ?? []).some((p: Obj) => p.patch?.value?.name === "envoy.filters.http.wasm"),
  );
  return {
    sendsChecks: docs.some(
      (d) => (d.kind === "AuthorizationPolicy" && d.spec?.action === "CUSTOM") || d.kind === "EnvoyFilter",
    ),
    runsWasm: envoyFilterWasm || docs.some((d) => d.kind === "WasmPlugin"),
  };
}

/**
 * No PeerAuthentication that Istio ignores: one with a workload selector in the root namespace (Istio's API reference:
 * "PeerAuthentication policies with workload selectors are ignored when deployed in the root namespace"). It would
 * look like STRICT mTLS for the opted-in workloads and leave them PERMISSIVE.
 */
export function checkNoIgnoredPeerAuthentication(docs: Obj[]): Issue[] {
  return docs
    .filter(
      (d) =>
        d.kind === "PeerAuthentication" &&
        d.metadata?.namespace === ROOT_NAMESPACE &&
        Object.keys((d.spec?.selector?.matchLabels ?? {}) as Obj).length > 0,
    )
    .map((d) => ({
      path: `PeerAuthentication ${d.metadata?.name}`,
      message: `has a workload selector in ${ROOT_NAMESPACE}, where Istio ignores such policies: put it in the workloads' namespace (envoy-configs/istio/strict-mtls) or drop the selector`,
    }));
}

/** The per-namespace template: no namespace of its own, the opt-in selector, STRICT on every port. */
export function checkStrictMtlsTemplate(docs: Obj[]): Issue[] {
  const ok = docs.some(
    (d) =>
      d.kind === "PeerAuthentication" &&
      d.metadata?.namespace === undefined &&
      sameLabels(d.spec?.selector?.matchLabels, OPT_IN) &&
      d.spec?.mtls?.mode === "STRICT" &&
      Object.values((d.spec?.portLevelMtls ?? {}) as Obj).every((m: Obj) => m?.mode === "STRICT"),
  );
  return ok
    ? []
    : [
        {
          path: "strict-mtls",
          message:
            "expected one STRICT PeerAuthentication selecting trustgate.io/authz=enabled without a namespace (applied per workload namespace)",
        },
      ];
}

// ---- trustgate's own pods --------------------------------------------------------------------------------------

export interface ResolvedFacts {
  /** config.workers after file + environment */
  readonly workers: number | "auto";
  readonly shutdownGraceSeconds: number;
}

/** Deployment: workers vs CPU/memory, graceful termination, probes on the real endpoints. */
export function checkDeployment(deploy: Obj, facts: ResolvedFacts): Issue[] {
  const issues: Issue[] = [];
  const pod = deploy.spec?.template?.spec ?? {};
  const c = (pod.containers ?? []).find((x: Obj) => x.name === "trustgate") ?? {};
  const path = "Deployment/trustgate.spec.template.spec";
  const cpuLimit = c.resources?.limits?.cpu;
  if (facts.workers === "auto" && cpuLimit === undefined)
    issues.push({
      path: `${path}.containers[trustgate].resources`,
      message:
        "workers: auto without a CPU limit starts one process per CPU of the node: set workers (TRUSTGATE_WORKERS)",
    });
  const processes = facts.workers === "auto" ? Number.POSITIVE_INFINITY : facts.workers === 1 ? 1 : facts.workers + 1;
  const mem = bytes(c.resources?.limits?.memory);
  if (mem === undefined || mem < processes * MEMORY_PER_PROCESS)
    issues.push({
      path: `${path}.containers[trustgate].resources.limits.memory`,
      message: `${processes} trustgate processes need at least ${processes} x 128Mi (got ${c.resources?.limits?.memory})`,
    });
  const sleep = c.lifecycle?.preStop?.exec?.command;
  const sleepSeconds =
    Array.isArray(sleep) && sleep[0] === "sleep"
      ? Number(sleep[1])
      : Number(c.lifecycle?.preStop?.sleep?.seconds ?? Number.NaN);
  if (!(sleepSeconds >= 3))
    issues.push({
      path: `${path}.containers[trustgate].lifecycle.preStop`,
      message:
        "sleep a few seconds before SIGTERM: sidecars keep calling a terminating pod until istiod removes it, and each refused Check is a 503",
    });
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const need = (Number.isFinite(sleepSeconds) ? sleepSeconds : 0) + facts.shutdownGraceSeconds + 5;
  if (grace < need)
    issues.push({
      path: `${path}.terminationGracePeriodSeconds`,
      message: `${grace}s is shorter than preStop + shutdownGraceSeconds + 5s (${need}s): the kubelet kills trustgate mid-drain`,
    });
  const portNumber = (p: unknown) =>
    typeof p === "number" ? p : (c.ports ?? []).find((x: Obj) => x.name === p)?.containerPort;
  for (const probe of ["livenessProbe", "startupProbe"]) {
    const h = c[probe]?.httpGet;
    if (h?.path !== "/healthz" || portNumber(h?.port) !== 9192)
      issues.push({
        path: `${path}.containers[trustgate].${probe}`,
        message: "must be GET /healthz on the admin port 9192",
      });
  }
  const r = c.readinessProbe;
  const readyHttp = r?.httpGet?.path === "/readyz" && portNumber(r.httpGet.port) === 9192;
  const readyGrpc =
    r?.grpc?.port === 9191 && ["", "envoy.service.auth.v3.Authorization", undefined].includes(r.grpc.service);
  if (!readyHttp && !readyGrpc)
    issues.push({
      path: `${path}.containers[trustgate].readinessProbe`,
      message: "must be gRPC health on 9191 or GET /readyz",
    });
  return issues;
}

/** NetworkPolicy: which ports opted-in sidecars may reach, and that nothing else is open to every pod. */
export function checkNetworkPolicy(docs: Obj[]): Issue[] {
  const issues: Issue[] = [];
  const np = docs.find((d) => d.kind === "NetworkPolicy" && d.metadata?.name === "trustgate");
  if (np === undefined) return [{ path: "NetworkPolicy/trustgate", message: "missing" }];
  const { runsWasm } = installFacts(docs);
  const ports = (rule: Obj) => (rule.ports ?? []).map((p: Obj) => p.port).sort();
  (np.spec?.ingress ?? []).forEach((rule: Obj, i: number) => {
    const path = `NetworkPolicy/trustgate.spec.ingress[${i}]`;
    const from = rule.from ?? [];
    if (from.length === 0) {
      if (JSON.stringify(ports(rule)) !== "[9443]")
        issues.push({
          path,
          message: "only the webhook port 9443 may be open to every source (the API server is not a pod)",
        });
      return;
    }
    for (const peer of from) {
      const labels = peer.podSelector?.matchLabels ?? {};
      const anyNamespace = peer.namespaceSelector !== undefined && Object.keys(peer.namespaceSelector).length === 0;
      if (!anyNamespace) continue;
      if (labels["security.istio.io/tlsMode"] !== "istio" || labels["trustgate.io/authz"] !== "enabled")
        issues.push({
          path,
          message:
            "a peer in every namespace must be an opted-in sidecar (tlsMode=istio and trustgate.io/authz=enabled)",
        });
      const want = runsWasm ? [9191, 9192] : [9191];
      if (JSON.stringify(ports(rule)) !== JSON.stringify(want))
        issues.push({
          path,
          message: `sidecars may reach ${want.join(", ")} in this install (9192 serves /metrics and GET /v1/risk without a token; only the wasm filter's revocation poll needs it)`,
        });
    }
  });
  return issues;
}

// ---- RBAC against the code -------------------------------------------------------------------------------------

/** What trustgate's Kubernetes client does: resource → verbs (from authz-server/src/kube). */
export const KUBE_ACCESS: Record<string, { group: string; verbs: string[]; namespaced?: string }> = {
  pods: { group: "", verbs: ["get", "list", "watch"] },
  trustgatepolicies: { group: "trustgate.dev", verbs: ["list", "watch"] },
  "trustgatepolicies/status": { group: "trustgate.dev", verbs: ["patch"] },
  leases: { group: "coordination.k8s.io", verbs: ["create", "get", "update"], namespaced: "trustgate-system" },
};

/** HTTP methods trustgate's kube client sends, per source file under authz-server/src/kube (non-test). */
export function kubeClientMethods(kubeDir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of readdirSync(kubeDir).filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts"))) {
    const text = readFileSync(join(kubeDir, f), "utf8");
    const methods = [...text.matchAll(/\.request(?:<.*?>)?\(\s*"([A-Z]+)"/g)].map((m) => m[1] as string);
    if (methods.length > 0) out[f] = [...new Set(methods)].sort();
  }
  return out;
}

/** The rules bound to trustgate's service account grant exactly KUBE_ACCESS. */
export function checkRbac(docs: Obj[]): Issue[] {
  const issues: Issue[] = [];
  const granted: Record<string, Set<string>> = {};
  for (const d of docs.filter((x) => x.kind === "ClusterRole" || x.kind === "Role")) {
    const bound = docs.some(
      (b) =>
        (b.kind === "ClusterRoleBinding" || b.kind === "RoleBinding") &&
        b.roleRef?.name === d.metadata?.name &&
        b.roleRef?.kind === d.kind &&
        (b.subjects ?? []).some((s: Obj) => s.kind === "ServiceAccount" && s.name === "trustgate"),
    );
    if (!bound) continue;
    (d.rules ?? []).forEach((r: Obj, i: number) => {
      const path = `${d.kind}/${d.metadata.name}.rules[${i}]`;
      for (const res of r.resources ?? []) {
        const want = KUBE_ACCESS[res];
        if (want === undefined || !(r.apiGroups ?? []).every((g: string) => g === want.group)) {
          issues.push({ path, message: `grants ${res} in ${r.apiGroups}: trustgate does not use it` });
          continue;
        }
        if (want.namespaced !== undefined && (d.kind !== "Role" || d.metadata.namespace !== want.namespaced))
          issues.push({ path, message: `${res} only in namespace ${want.namespaced} (a Role, not a ClusterRole)` });
        for (const v of r.verbs ?? []) {
          if (!want.verbs.includes(v)) issues.push({ path, message: `verb ${v} on ${res}: trustgate does not use it` });
          const set = granted[res] ?? new Set<string>();
          set.add(v);
          granted[res] = set;
        }
      }
    });
  }
  for (const [res, want] of Object.entries(KUBE_ACCESS))
    for (const v of want.verbs)
      if (!granted[res]?.has(v)) issues.push({ path: "RBAC", message: `trustgate needs ${v} on ${res}` });
  return issues;
}

// ---- admission webhook -----------------------------------------------------------------------------------------

export function checkWebhook(docs: Obj[]): Issue[] {
  const issues: Issue[] = [];
  const vwc = docs.find((d) => d.kind === "ValidatingWebhookConfiguration");
  if (vwc === undefined) return [];
  (vwc.webhooks ?? []).forEach((w: Obj, i: number) => {
    const path = `ValidatingWebhookConfiguration/${vwc.metadata.name}.webhooks[${i}]`;
    if (w.failurePolicy !== "Fail")
      issues.push({
        path: `${path}.failurePolicy`,
        message: "must be Fail: an unchecked security policy must not slip in",
      });
    if (w.sideEffects !== "None") issues.push({ path: `${path}.sideEffects`, message: "must be None (dry-run safe)" });
    if (!(w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10))
      issues.push({ path: `${path}.timeoutSeconds`, message: "1-10 s: it holds every kubectl apply of a policy" });
    for (const r of w.rules ?? [])
      for (const res of r.resources ?? [])
        if (res !== "trustgatepolicies")
          issues.push({
            path: `${path}.rules`,
            message: `${res}: only trustgatepolicies (not status, not other kinds)`,
          });
    const svc = docs.find(
      (d) =>
        d.kind === "Service" &&
        d.metadata.name === w.clientConfig?.service?.name &&
        d.metadata.namespace === w.clientConfig?.service?.namespace,
    );
    const port = svc?.spec?.ports?.find((p: Obj) => p.port === (w.clientConfig?.service?.port ?? 443));
    if (port === undefined) issues.push({ path: `${path}.clientConfig.service`, message: "no such Service port" });
    const cert = docs.find((d) => d.kind === "Certificate");
    const inject = vwc.metadata.annotations?.["cert-manager.io/inject-ca-from"];
    if (cert !== undefined) {
      const host = `${w.clientConfig?.service?.name}.${w.clientConfig?.service?.namespace}.svc`;
      if (!(cert.spec?.dnsNames ?? []).includes(host))
        issues.push({
          path: "Certificate.spec.dnsNames",
          message: `must include ${host}, the name the API server checks`,
        });
      if (inject !== `${cert.metadata.namespace}/${cert.metadata.name}`)
        issues.push({ path: `${path}`, message: "cert-manager.io/inject-ca-from must name the Certificate" });
    }
  });
  return issues;
}

// ---- Prometheus rules ------------------------------------------------------------------------------------------

/** Metric names trustgate exports, from the prom-client definitions under authz-server/src. */
export function exportedMetrics(srcDir: string): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
        for (const m of readFileSync(join(dir, e.name), "utf8").matchAll(/"(trustgate_[a-z0-9_]+)"/g))
          names.add(m[1] as string);
    }
  };
  walk(srcDir);
  return names;
}

export function checkRuleMetrics(rulesYaml: string, exported: Set<string>): Issue[] {
  const issues: Issue[] = [];
  const doc = YAML.parse(rulesYaml) as Obj;
  for (const g of doc.groups ?? [])
    for (const r of g.rules ?? [])
      for (const m of String(r.expr).matchAll(/\b(trustgate_[a-z0-9_]+)/g)) {
        const base = (m[1] as string).replace(/_(bucket|count|sum)$/, "");
        if (!exported.has(m[1] as string) && !exported.has(base))
          issues.push({
            path: `${g.name}/${r.alert ?? r.record}`,
            message: `${m[1]} is not a metric trustgate exports`,
          });
      }
  return issues;
}
