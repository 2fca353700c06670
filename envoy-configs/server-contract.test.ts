// The configuration files this directory ships, read by the server's own loaders: what compose and Kubernetes
// hand trustgate (file + environment) must be a configuration the server accepts, with the meaning intended.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { resolveConfig as resolve } from "../authz-server/src/config/load-config.js";
import { parseWorkloadInventory } from "../authz-server/src/workloads/workload-inventory.js";
import { loadWorkloads, spiffeId } from "./compose/render.mjs";
import { interpolate, parseComposeYaml } from "./validate/compose.js";
import { hasKubectl, renderKustomization } from "./validate/manifests.js";

// biome-ignore lint/suspicious/noExplicitAny: documents of several shapes
type Obj = Record<string, any>;

function resolveConfig(...args: Parameters<typeof resolve>) {
  const result = resolve(...args);
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

const here = import.meta.dirname;
const text = (rel: string) => readFileSync(join(here, rel), "utf8");

describe("trustgate accepts the configuration it is given", () => {
  it("compose: trustgate.yaml + the service's environment", () => {
    const compose = parseComposeYaml(readFileSync(join(here, "..", "docker-compose.yml"), "utf8")).doc as Obj;
    const env = Object.fromEntries(
      Object.entries(compose.services.trustgate.environment as Record<string, string>).map(([k, v]) => [
        k,
        interpolate(v),
      ]),
    );
    const config = resolveConfig(
      YAML.parse(text("compose/trustgate/trustgate.yaml")),
      env,
      {},
      "compose trustgate.yaml",
    );
    expect(config.grpc.addr).toBe("0.0.0.0:9191");
    expect(config.http.addr).toBe("0.0.0.0:9192");
    expect(config.identity).toMatchObject({ trustDomains: ["cluster.local"], trustFilterHeaders: true });
    expect(config.policies.dir).toBe("/etc/trustgate/policies");
    expect(config.workloads.file).toBe("/etc/trustgate/workloads.yaml");
    expect(config.falco.token).toBe(env.TRUSTGATE_FALCO_TOKEN);
    expect(config.falco.mapping.strategy).toBe("static");
  });

  // needs the real kustomize (kubectl) to apply the variants' patches and generate the ConfigMap
  it.skipIf(!hasKubectl())("Istio: trustgate.yaml + the Deployment's environment, in every variant", () => {
    for (const variant of ["istio", "istio/wasm-oci", "istio/wasm-file", "istio/envoyfilter"]) {
      const docs = renderKustomization(join(here, variant)).docs as Obj[];
      const deploy = docs.find((d) => d.kind === "Deployment") as Obj;
      const cm = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name.startsWith("trustgate-config")) as Obj;
      const env = Object.fromEntries(deploy.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
      const config = resolveConfig(YAML.parse(cm.data["trustgate.yaml"]), env, {}, `${variant} trustgate.yaml`);
      // Only the EnvoyFilter variant runs the wasm filter before ext_authz (Istio's CUSTOM ext_authz runs first).
      expect(config.identity.trustFilterHeaders, variant).toBe(variant === "istio/envoyfilter");
      expect(config.falco.tokenFile).toBe("/run/secrets/trustgate/falco-token");
      expect(config.falco.mapping.strategy).toBe("kubernetes");
      expect(config.grpc.addr).toBe("0.0.0.0:9191");
    }
  });

  it("the workload inventory parses and yields the SPIFFE IDs SPIRE registers", () => {
    const parsed = parseWorkloadInventory(
      YAML.parse(text("compose/trustgate/workloads.yaml")),
      "workloads.yaml",
      "cluster.local",
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const inventory = parsed.inventory;
    expect(inventory.workloads.map((w) => w.spiffeId)).toEqual(loadWorkloads().map(spiffeId));
    expect(inventory.bySpiffe("spiffe://cluster.local/ns/services/sa/order")?.containers).toEqual([
      "order",
      "envoy-order",
    ]);
  });
});
