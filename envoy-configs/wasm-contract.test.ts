// The wasm filter configurations this directory ships, given to the real compiled filter (through the
// project's proxy-wasm host, with Envoy's link checks): each must be accepted, and the filter must poll
// trustgate's revocation list on exactly the cluster, authority and path the Envoy/Istio config provides.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ProxyWasmHost } from "../test/proxy-wasm-host/index.js";
import { loadWorkloads, mesh } from "./compose/render.mjs";
import { envoyFilterHttpFilters, parseYamlDocuments } from "./validate/manifests.js";

// biome-ignore lint/suspicious/noExplicitAny: documents of several shapes
type Obj = Record<string, any>;

const here = import.meta.dirname;
const wasmFile = join(here, "..", "wasm-filter", "build", "trustgate_filter.wasm");
const readDocs = (rel: string) => parseYamlDocuments(readFileSync(join(here, rel), "utf8")).docs as Obj[];

interface Case {
  name: string;
  rootId: string;
  config: string;
  clusters: string[];
  expect: { cluster: string; authority: string; path: string; pollMs: number };
}

function composeCase(): Case {
  const w = loadWorkloads()[0];
  if (!w) throw new Error("no workloads");
  const b = YAML.parse(readFileSync(join(here, "compose", "envoy", `${w.name}.yaml`), "utf8")) as Obj;
  const wasm =
    b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config;
  return {
    name: `compose sidecar (${w.name})`,
    rootId: wasm.root_id,
    config: wasm.configuration.value,
    clusters: b.static_resources.clusters.map((c: Obj) => c.name),
    expect: {
      cluster: mesh.adminCluster,
      authority: mesh.trustgateHost,
      path: mesh.revocationPath,
      pollMs: mesh.revocationPollMs,
    },
  };
}

const istioAdminCluster = "outbound|9192||trustgate.trustgate-system.svc.cluster.local";
const istioExpect = {
  cluster: istioAdminCluster,
  authority: "trustgate.trustgate-system.svc.cluster.local",
  path: "/v1/revocations",
  pollMs: 2000,
};

function istioCases(): Case[] {
  const [, wasm] = envoyFilterHttpFilters(readDocs("istio/envoyfilter/envoyfilter.yaml")) as [Obj, Obj];
  const cases: Case[] = [
    {
      name: "Istio EnvoyFilter",
      rootId: wasm.typed_config.config.root_id,
      config: wasm.typed_config.config.configuration.value,
      clusters: [istioAdminCluster],
      expect: istioExpect,
    },
  ];
  for (const variant of ["wasm-oci", "wasm-file"]) {
    const plugin = readDocs(`istio/${variant}/wasmplugin.yaml`)[0] as Obj;
    // Istio hands a WasmPlugin's pluginConfig (a Struct) to the plugin as JSON, and uses pluginName as root id
    cases.push({
      name: `Istio WasmPlugin (${variant})`,
      rootId: plugin.spec.pluginName,
      config: JSON.stringify(plugin.spec.pluginConfig),
      clusters: [istioAdminCluster],
      expect: istioExpect,
    });
  }
  return cases;
}

describe("the compiled wasm filter accepts the shipped configurations", () => {
  const bytes = readFileSync(wasmFile);

  for (const c of [composeCase(), ...istioCases()]) {
    it(c.name, () => {
      const host = ProxyWasmHost.load(bytes, { pluginConfig: c.config, rootId: c.rootId, clusters: c.clusters });
      expect(host.startVm()).toBe(true);
      expect(host.configure(), host.logMessages().join("\n")).toBe(true);
      expect(host.tickPeriodMs).toBe(c.expect.pollMs);
      host.tick();
      const call = host.httpCalls.at(-1);
      expect(call?.upstream).toBe(c.expect.cluster);
      const headers = Object.fromEntries(call?.headers ?? []);
      expect(headers[":path"]).toBe(c.expect.path);
      expect(headers[":authority"]).toBe(c.expect.authority);
      expect(headers[":method"]).toBe("GET");
    });
  }

  it("and rejects a configuration with a typo (so the checks above can fail)", () => {
    const config = JSON.parse(composeCase().config);
    const typo = JSON.stringify({ ...config, requireMTLS: true });
    const host = ProxyWasmHost.load(bytes, { pluginConfig: typo, rootId: "trustgate" });
    expect(host.startVm()).toBe(true);
    expect(host.configure()).toBe(false);
  });
});
