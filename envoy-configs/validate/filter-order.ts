// Whether an install may let trustgate trust the wasm filter's x-trustgate-peer-* headers. They are facts only when
// the filter has run (stripping what the client sent, setting them from the connection) before the ext_authz call
// that reaches trustgate. In Istio's HTTP filter chain the CUSTOM action's ext_authz runs before every WasmPlugin,
// whatever its phase (metadata exchange → CUSTOM ext_authz → WasmPlugins AUTHN → authn → WasmPlugins AUTHZ → RBAC →
// WasmPlugins STATS), so only an EnvoyFilter that inserts the wasm filter before ext_authz qualifies.
import YAML from "yaml";
import type { Issue } from "./issues.js";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked loosely
type Obj = Record<string, any>;

export interface FilterHeaderFacts {
  /** TRUSTGATE_TRUST_FILTER_HEADERS on the trustgate container, else identity.trustFilterHeaders in its config. */
  readonly trustFilterHeaders: boolean;
  /** An AuthorizationPolicy with action CUSTOM (Istio's ext_authz, which runs before any WasmPlugin). */
  readonly customAuthz: boolean;
  readonly wasmPlugins: number;
  /** An EnvoyFilter patch inserting envoy.filters.http.wasm before envoy.filters.http.ext_authz. */
  readonly wasmBeforeExtAuthz: boolean;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function configTrust(docs: Obj[]): boolean | undefined {
  for (const d of docs) {
    if (d.kind !== "ConfigMap" || !isObj(d.data) || typeof d.data["trustgate.yaml"] !== "string") continue;
    const value = YAML.parse(d.data["trustgate.yaml"]) as Obj | null;
    const trust = value?.identity?.trustFilterHeaders;
    if (typeof trust === "boolean") return trust;
  }
  return undefined;
}

export function filterHeaderFacts(rendered: unknown[]): FilterHeaderFacts {
  const docs = rendered.filter(isObj);
  let envTrust: boolean | undefined;
  for (const d of docs) {
    if (d.kind !== "Deployment") continue;
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      for (const e of c.env ?? []) {
        if (e.name === "TRUSTGATE_TRUST_FILTER_HEADERS") envTrust = /^(1|true|yes|on)$/i.test(String(e.value));
      }
    }
  }
  let wasmBeforeExtAuthz = false;
  for (const d of docs) {
    if (d.kind !== "EnvoyFilter") continue;
    for (const p of d.spec?.configPatches ?? []) {
      const sub = p?.match?.listener?.filterChain?.filter?.subFilter?.name;
      if (
        p?.applyTo === "HTTP_FILTER" &&
        p?.patch?.operation === "INSERT_BEFORE" &&
        p?.patch?.value?.name === "envoy.filters.http.wasm" &&
        sub === "envoy.filters.http.ext_authz"
      ) {
        wasmBeforeExtAuthz = true;
      }
    }
  }
  return {
    trustFilterHeaders: envTrust ?? configTrust(docs) ?? false,
    customAuthz: docs.some((d) => d.kind === "AuthorizationPolicy" && d.spec?.action === "CUSTOM"),
    wasmPlugins: docs.filter((d) => d.kind === "WasmPlugin").length,
    wasmBeforeExtAuthz,
  };
}

/** Issues when an install trusts filter headers that a client could have written. */
export function checkFilterHeaderTrust(facts: FilterHeaderFacts, where: string): Issue[] {
  if (!facts.trustFilterHeaders) return [];
  const issues: Issue[] = [];
  if (facts.customAuthz) {
    issues.push({
      path: where,
      message:
        "trustgate trusts x-trustgate-peer-* headers, but the CUSTOM action's ext_authz runs before every WasmPlugin: a client's forged headers would reach trustgate (set TRUSTGATE_TRUST_FILTER_HEADERS=false, or use the EnvoyFilter install)",
    });
  }
  if (!facts.wasmBeforeExtAuthz) {
    issues.push({
      path: where,
      message:
        "trustgate trusts x-trustgate-peer-* headers, but nothing inserts the wasm filter before ext_authz (an EnvoyFilter INSERT_BEFORE envoy.filters.http.ext_authz)",
    });
  }
  return issues;
}
