// One mesh, many files: this test checks that the facts they share agree everywhere — cluster names, the
// gRPC and admin ports, the .wasm path, the Falco URL and token, the trust domain, the workloads and their
// SPIFFE IDs (including every identity the example policies name).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { loadWorkloads, mesh, spiffeId, spireEntries, wasmPluginConfig } from "./compose/render.mjs";
import { hclString, interpolate, parseComposeYaml, requiredVariables } from "./validate/compose.js";
import {
  envoyFilterHttpFilters,
  parseYamlDocuments,
  renderKustomization,
  validateManifest,
} from "./validate/manifests.js";
import { principalStrings, unknownPrincipals } from "./validate/spiffe-ids.js";

// biome-ignore lint/suspicious/noExplicitAny: facts are read from many differently shaped documents
type Obj = Record<string, any>;

const here = import.meta.dirname;
const repo = join(here, "..");
const text = (rel: string) => readFileSync(join(repo, rel), "utf8");
const yaml = (rel: string): Obj => YAML.parse(text(rel));

const workloads = loadWorkloads();
const compose = parseComposeYaml(text("docker-compose.yml")).doc as Obj;
const services = compose.services as Obj;
const env = (svc: string): Record<string, string> =>
  Object.fromEntries(Object.entries(services[svc]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
const bootstrap = (name: string): Obj => yaml(`envoy-configs/compose/envoy/${name}.yaml`);
const inboundFilters = (b: Obj): Obj[] =>
  b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.map((f: Obj) => f);
const clusterByName = (b: Obj, name: string): Obj => b.static_resources.clusters.find((c: Obj) => c.name === name);
const endpointOf = (c: Obj): Obj => c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address;
const portOf = (addr: string): number => Number(addr.split(":").pop());

const composeTrustgate = yaml("envoy-configs/compose/trustgate/trustgate.yaml");
const istioTrustgate = yaml("envoy-configs/istio/base/trustgate.yaml");
const istioDocs = renderKustomization(join(here, "istio")).docs as Obj[];
const istioService = istioDocs.find((d) => d.kind === "Service") as Obj;
const istioDeployment = istioDocs.find((d) => d.kind === "Deployment") as Obj;
const svcHost = `${istioService.metadata.name}.${istioService.metadata.namespace}.svc.cluster.local`;
const svcPort = (name: string): number => istioService.spec.ports.find((p: Obj) => p.name === name).port;
const wasmPlugins = ["wasm-oci", "wasm-file"].map(
  (v) => parseYamlDocuments(text(`envoy-configs/istio/${v}/wasmplugin.yaml`)).docs[0] as Obj,
);
const envoyFilterDocs = parseYamlDocuments(text("envoy-configs/istio/envoyfilter/envoyfilter.yaml")).docs;
const [istioExtAuthz, istioWasm] = envoyFilterHttpFilters(envoyFilterDocs) as [Obj, Obj];
const meshConfig = yaml("envoy-configs/istio/mesh-config/istiod-values.yaml").meshConfig;
const falcoValues = yaml("envoy-configs/istio/falco/values.yaml");
const auditValues = yaml("envoy-configs/istio/falco/values-k8saudit.yaml");

describe("trust domain", () => {
  it("is cluster.local in every place that names one", () => {
    const td = mesh.trustDomain;
    expect(td).toBe("cluster.local");
    expect(composeTrustgate.identity.trustDomains).toEqual([td]);
    expect(istioTrustgate.identity.trustDomains).toEqual([td]);
    expect(composeTrustgate.falco.mapping.trustDomain).toBe(td);
    expect(istioTrustgate.falco.mapping.trustDomain).toBe(td);
    expect(hclString(text("envoy-configs/compose/spire/server.conf"), "trust_domain")).toBe(td);
    expect(hclString(text("envoy-configs/compose/spire/agent.conf"), "trust_domain")).toBe(td);
    for (const p of wasmPlugins) expect(p.spec.pluginConfig.allowedTrustDomains).toEqual([td]);
    expect(JSON.parse(istioWasm.typed_config.config.configuration.value).allowedTrustDomains).toEqual([td]);
    for (const w of workloads) {
      expect(spiffeId(w).startsWith(`spiffe://${td}/ns/`)).toBe(true);
      const tls = bootstrap(w.name).static_resources.listeners[0].filter_chains[0].transport_socket.typed_config;
      const v = tls.common_tls_context.combined_validation_context;
      expect(v.validation_context_sds_secret_config.name).toBe(`spiffe://${td}`);
      expect(v.default_validation_context.match_typed_subject_alt_names[0].matcher.prefix).toBe(`spiffe://${td}/`);
    }
  });
});

describe("workloads, SPIRE entries and compose services", () => {
  it("has the seven workloads of the e-commerce example", () => {
    expect(workloads.map((w) => `${w.namespace}/${w.name}`)).toEqual([
      "frontend/web",
      "services/api",
      "services/order",
      "services/payment",
      "services/billing",
      "data/database",
      "data/cache",
    ]);
    for (const w of workloads) expect(w.labels).toEqual({ app: w.name });
  });

  it("registers one SPIRE entry per workload, selecting that workload's sidecar container", () => {
    const entries = JSON.parse(text("envoy-configs/compose/spire/entries.json")).entries as Obj[];
    expect(entries).toEqual(spireEntries(workloads).entries);
    for (const w of workloads) {
      const e = entries.find((x) => x.spiffe_id === spiffeId(w)) as Obj;
      expect(e.parent_id).toBe(mesh.spireAgentId);
      expect(e.selectors).toEqual([{ type: "docker", value: `label:com.docker.compose.service:envoy-${w.name}` }]);
      expect(services[`envoy-${w.name}`], `compose service envoy-${w.name}`).toBeDefined();
    }
    // the agent's ID is what the http_challenge attestor gives the compose service "spire-agent"
    expect(mesh.spireAgentId).toBe(`spiffe://${mesh.trustDomain}/spire/agent/http_challenge/spire-agent`);
    expect(services["spire-agent"].hostname).toBe("spire-agent");
    expect(text("envoy-configs/compose/spire/server.conf")).toContain('allowed_dns_patterns = ["^spire-agent$"]');
  });

  it("SPIRE: the registration step and the health checks use the sockets the server and agent create", () => {
    const serverSocket = hclString(text("envoy-configs/compose/spire/server.conf"), "socket_path") as string;
    const agentSocket = hclString(text("envoy-configs/compose/spire/agent.conf"), "socket_path") as string;
    expect(env("spire-register").SPIRE_SERVER_SOCKET).toBe(serverSocket);
    const socketDir = serverSocket.slice(0, serverSocket.lastIndexOf("/"));
    for (const svc of ["spire-server", "spire-register"]) {
      expect(services[svc].volumes).toContain(`spire-server-socket:${socketDir}`);
    }
    expect(services["spire-server"].healthcheck.test).toContain(serverSocket);
    expect(services["spire-agent"].healthcheck.test).toContain(agentSocket);
    expect(agentSocket).toBe(mesh.spireSocket);
    // the config files are mounted where the commands read them
    const configArg = (svc: string) => services[svc].command[services[svc].command.indexOf("-config") + 1];
    expect(services["spire-server"].volumes).toContain(
      `./envoy-configs/compose/spire/server.conf:${configArg("spire-server")}:ro`,
    );
    expect(services["spire-agent"].volumes).toContain(
      `./envoy-configs/compose/spire/agent.conf:${configArg("spire-agent")}:ro`,
    );
  });

  it("runs an app and a sidecar per workload with the container names Falco will report", () => {
    for (const w of workloads) {
      const app = services[w.name] as Obj;
      const sidecar = services[`envoy-${w.name}`] as Obj;
      expect(env(w.name).SERVICE_NAME).toBe(w.name);
      expect(Number(env(w.name).PORT)).toBe(mesh.appPort);
      expect([app.container_name, sidecar.container_name]).toEqual(w.containers);
      expect(sidecar.network_mode).toBe(`service:${w.name}`);
      for (const other of workloads) {
        expect(env(w.name)[`OUTBOUND_${other.name.toUpperCase()}`]).toBe(`http://127.0.0.1:${mesh.outboundPort}`);
      }
    }
  });

  it("gives each sidecar its own SVID, labels and namespace hint", () => {
    for (const w of workloads) {
      const b = bootstrap(w.name);
      expect(b.node.metadata.LABELS).toEqual(w.labels);
      const tls = b.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config;
      expect(tls.common_tls_context.tls_certificate_sds_secret_configs[0].name).toBe(spiffeId(w));
      const route =
        b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]
          .routes[0];
      expect(route.typed_per_filter_config["envoy.filters.http.ext_authz"].check_settings.context_extensions).toEqual({
        "trustgate.namespace": w.namespace,
      });
      // outbound: each destination's cluster accepts only that destination's exact SPIFFE ID
      for (const other of workloads.filter((o) => o.name !== w.name)) {
        const c = clusterByName(b, `outbound_${other.name}`);
        const v = c.transport_socket.typed_config.common_tls_context.combined_validation_context;
        expect(v.default_validation_context.match_typed_subject_alt_names[0].matcher).toEqual({
          exact: spiffeId(other),
        });
        expect(endpointOf(c).socket_address).toEqual({ address: other.name, port_value: mesh.inboundPort });
      }
    }
  });
});

describe("policies name only identities that exist", () => {
  const policyFiles: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (/\.ya?ml$/.test(e.name) && !/\.test\.ya?ml$/.test(e.name)) policyFiles.push(join(dir, e.name));
    }
  };
  walk(join(repo, "policies"));
  walk(join(here, "istio", "base", "policies"));
  const registered = spireEntries(workloads).entries.map((e) => e.spiffe_id);

  it("every spiffe:// or <td>/ns/<ns>/sa/<sa> principal in the example policies is a SPIRE registration entry", () => {
    const found: string[] = [];
    for (const f of policyFiles) {
      const docs = parseYamlDocuments(readFileSync(f, "utf8")).docs;
      found.push(...docs.flatMap((d) => principalStrings(d)));
      expect(unknownPrincipals(docs, registered), relative(repo, f)).toEqual([]);
    }
    // once the example policies exist they do name identities; the check above is then not vacuous
    if (policyFiles.some((f) => f.includes(`${join(repo, "policies")}/`))) expect(found.length).toBeGreaterThan(0);
  });

  it("the example policies are AuthorizationPolicies Istio would accept (field names, enums)", () => {
    for (const f of policyFiles) {
      const docs = parseYamlDocuments(readFileSync(f, "utf8")).docs;
      const issues = docs.flatMap((d, i) => validateManifest(d, `[${i}]`));
      expect(issues, relative(repo, f)).toEqual([]);
    }
  });

  it("catches an identity that no workload has (synthetic policies)", () => {
    const policy = (principals: string[], when: string[] = []) => ({
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "p", namespace: "services" },
      spec: { rules: [{ from: [{ source: { principals } }], when: [{ key: "source.principal", values: when }] }] },
    });
    expect(unknownPrincipals([policy(["cluster.local/ns/services/sa/order"])], registered)).toEqual([]);
    expect(unknownPrincipals([policy(["spiffe://cluster.local/ns/services/sa/order"])], registered)).toEqual([]);
    expect(unknownPrincipals([policy(["cluster.local/ns/services/sa/*", "*"])], registered)).toEqual([]);
    expect(unknownPrincipals([policy(["cluster.local/ns/services/sa/ordr"])], registered)).toEqual([
      {
        principal: "cluster.local/ns/services/sa/ordr",
        reason: "spiffe://cluster.local/ns/services/sa/ordr is not a registered SPIFFE ID",
      },
    ]);
    expect(unknownPrincipals([policy([], ["spiffe://example.org/ns/services/sa/order"])], registered)).toHaveLength(1);
    expect(unknownPrincipals([policy(["cluster.local/ns/payments/*"])], registered)).toEqual([
      { principal: "cluster.local/ns/payments/*", reason: "pattern matches no registered SPIFFE ID" },
    ]);
  });
});

describe("trustgate's ports and cluster names", () => {
  const grpcPort = mesh.trustgateGrpcPort;
  const adminPort = mesh.trustgateAdminPort;
  const webhookPort = 9443;

  it("gRPC is 9191 and admin 9192 in every config, image and manifest", () => {
    expect([grpcPort, adminPort]).toEqual([9191, 9192]);
    for (const cfg of [composeTrustgate, istioTrustgate]) {
      expect(portOf(cfg.grpc.addr)).toBe(grpcPort);
      expect(portOf(cfg.http.addr)).toBe(adminPort);
    }
    expect(services.trustgate.healthcheck.test).toEqual([
      "CMD",
      "node",
      "authz-server/bin/trustgate.js",
      "health",
      "--addr",
      `127.0.0.1:${grpcPort}`,
    ]);
    // Both on the host's loopback only: `trustgate check`/`health` and the admin API from the laptop.
    expect(services.trustgate.ports).toEqual([
      `127.0.0.1:${grpcPort}:${grpcPort}`,
      `127.0.0.1:${adminPort}:${adminPort}`,
    ]);
    expect(svcPort("grpc")).toBe(grpcPort);
    expect(svcPort("http-admin")).toBe(adminPort);
    expect(istioService.spec.ports.find((p: Obj) => p.name === "grpc").appProtocol).toBe("grpc");
    const c = istioDeployment.spec.template.spec.containers[0];
    expect(c.ports.map((p: Obj) => [p.name, p.containerPort])).toEqual([
      ["https-webhook", webhookPort],
      ["grpc", grpcPort],
      ["http-admin", adminPort],
    ]);
    expect(c.readinessProbe.grpc.port).toBe(grpcPort);
    for (const probe of ["startupProbe", "livenessProbe"]) expect(c[probe].httpGet.port).toBe("http-admin");
    const envs = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    expect(portOf(envs.TRUSTGATE_GRPC_ADDR)).toBe(grpcPort);
    expect(portOf(envs.TRUSTGATE_HTTP_ADDR)).toBe(adminPort);
    expect(portOf(envs.TRUSTGATE_WEBHOOK_ADDR)).toBe(webhookPort);
    const np = istioDocs.find((d) => d.kind === "NetworkPolicy") as Obj;
    // Sidecars reach the admin port only in the variants whose wasm filter polls it (component revocation-poll).
    expect(np.spec.ingress[0].ports.map((p: Obj) => p.port)).toEqual([grpcPort]);
    const wasmNp = (renderKustomization(join(here, "istio", "wasm-oci")).docs as Obj[]).find(
      (d) => d.kind === "NetworkPolicy",
    ) as Obj;
    expect(wasmNp.spec.ingress[0].ports.map((p: Obj) => p.port)).toEqual([grpcPort, adminPort]);
    expect(meshConfig.extensionProviders[0].envoyExtAuthzGrpc).toMatchObject({ service: svcHost, port: grpcPort });
  });

  it("compose sidecars: ext_authz and the wasm filter's revocation poller use the trustgate clusters", () => {
    for (const w of workloads) {
      const b = bootstrap(w.name);
      const [wasm, authz] = inboundFilters(b) as [Obj, Obj];
      expect(authz.typed_config.grpc_service.envoy_grpc.cluster_name).toBe(mesh.grpcCluster);
      const plugin = JSON.parse(wasm.typed_config.config.configuration.value);
      expect(plugin.revocation.cluster).toBe(mesh.adminCluster);
      expect(plugin.revocation.path).toBe("/v1/revocations");
      expect(endpointOf(clusterByName(b, mesh.grpcCluster)).socket_address).toEqual({
        address: "trustgate",
        port_value: grpcPort,
      });
      expect(endpointOf(clusterByName(b, mesh.adminCluster)).socket_address).toEqual({
        address: "trustgate",
        port_value: adminPort,
      });
      // gRPC needs HTTP/2 to the authorizer; the admin API is plain HTTP/1.1
      expect(clusterByName(b, mesh.grpcCluster).typed_extension_protocol_options).toBeDefined();
      expect(clusterByName(b, mesh.adminCluster).typed_extension_protocol_options).toBeUndefined();
    }
  });

  it("Istio: EnvoyFilter and WasmPlugins name the Service's outbound clusters", () => {
    expect(istioExtAuthz.typed_config.grpc_service.envoy_grpc).toEqual({
      cluster_name: `outbound|${grpcPort}||${svcHost}`,
      authority: svcHost,
    });
    const revocations = [
      JSON.parse(istioWasm.typed_config.config.configuration.value).revocation,
      ...wasmPlugins.map((p) => p.spec.pluginConfig.revocation),
    ];
    for (const r of revocations) {
      expect(r).toEqual({
        cluster: `outbound|${adminPort}||${svcHost}`,
        authority: svcHost,
        path: "/v1/revocations",
        pollMs: 2000,
      });
    }
  });

  it("Istio's ext_authz settings match the compose sidecars' (timeout, fail closed, peer certificate, labels)", () => {
    const composeAuthz = (inboundFilters(bootstrap("order"))[1] as Obj).typed_config;
    const { grpc_service: a, ...restIstio } = istioExtAuthz.typed_config;
    const { grpc_service: b, ...restCompose } = composeAuthz;
    expect(restIstio).toEqual(restCompose);
    expect(a.timeout).toBe(b.timeout);
    expect(composeAuthz).toMatchObject({
      include_peer_certificate: true,
      failure_mode_allow: false,
      bootstrap_metadata_labels_key: "LABELS",
    });
    expect(meshConfig.extensionProviders[0].envoyExtAuthzGrpc.timeout).toBe(mesh.extAuthzTimeout);
    expect(meshConfig.extensionProviders[0].envoyExtAuthzGrpc.failOpen).toBe(false);
  });

  it("the CUSTOM policy, the WasmPlugins and the EnvoyFilter select the same workloads and provider", () => {
    const policy = istioDocs.find((d) => d.kind === "AuthorizationPolicy") as Obj;
    expect(policy.spec.provider.name).toBe(meshConfig.extensionProviders[0].name);
    const selector = policy.spec.selector.matchLabels;
    for (const p of wasmPlugins) expect(p.spec.selector.matchLabels).toEqual(selector);
    expect((envoyFilterDocs[0] as Obj).spec.workloadSelector.labels).toEqual(selector);
    // wasm runs inbound only, before Istio's authn and RBAC filters (but after the CUSTOM ext_authz, which Istio
    // always places first: see validate/filter-order.ts)
    for (const p of wasmPlugins)
      expect(p.spec).toMatchObject({ phase: "AUTHN", failStrategy: "FAIL_CLOSE", match: [{ mode: "SERVER" }] });
  });
});

describe("the .wasm path", () => {
  it("compose: the file `npm run build:wasm` writes is mounted where every bootstrap loads it", () => {
    expect(text("wasm-filter/scripts/build.mjs")).toContain('"trustgate_filter.wasm"');
    for (const w of workloads) {
      const b = bootstrap(w.name);
      expect((inboundFilters(b)[0] as Obj).typed_config.config.vm_config.code.local.filename).toBe(mesh.wasmPath);
      const mount = (services[`envoy-${w.name}`] as Obj).volumes.find(
        (v: Obj) => typeof v === "object" && v.target === mesh.wasmPath,
      );
      expect(mount).toMatchObject({
        type: "bind",
        source: "./wasm-filter/build/trustgate_filter.wasm",
        read_only: true,
      });
    }
  });

  it("Istio: the file:// WasmPlugin and the EnvoyFilter load the same in-proxy path", () => {
    const fileUrl = (wasmPlugins[1] as Obj).spec.url as string;
    expect(fileUrl.startsWith("file://")).toBe(true);
    expect(istioWasm.typed_config.config.vm_config.code.local.filename).toBe(fileUrl.slice("file://".length));
    expect((wasmPlugins[0] as Obj).spec.url.startsWith("oci://")).toBe(true);
  });

  it("the filter configuration is the same JSON in compose and Istio, apart from Istio's cluster naming", () => {
    const composeConfig = JSON.parse(wasmPluginConfig());
    const istioConfig = JSON.parse(istioWasm.typed_config.config.configuration.value);
    expect({ ...istioConfig, revocation: { ...istioConfig.revocation, cluster: "", authority: "" } }).toEqual({
      ...composeConfig,
      revocation: { ...composeConfig.revocation, cluster: "", authority: "" },
    });
    for (const p of wasmPlugins) expect(p.spec.pluginConfig).toEqual(istioConfig);
  });
});

describe("the admin token", () => {
  it("compose: required from .env (npm run mesh:tokens), with the command in Compose's error when it is missing", () => {
    const raw = String(services.trustgate.environment.TRUSTGATE_ADMIN_TOKEN);
    expect(requiredVariables(raw)).toEqual([
      { name: "TRUSTGATE_ADMIN_TOKEN", message: "run npm run mesh:tokens first (it writes .env)" },
    ]);
    expect(interpolate(raw, { TRUSTGATE_ADMIN_TOKEN: "from-env-file" })).toBe("from-env-file");
    expect(JSON.parse(text("package.json")).scripts["mesh:tokens"]).toBe("node envoy-configs/compose/tokens.mjs");
    // .env holds the tokens: never committed, never in an image
    expect(text(".gitignore").split("\n")).toContain(".env");
    expect(text(".dockerignore").split("\n")).toContain(".env");
  });

  it("Istio: trustgate reads it from the Secret trustgate-admin-token it mounts", () => {
    const tokenFile: string = istioTrustgate.http.adminTokenFile;
    const pod = istioDeployment.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: Obj) => tokenFile.startsWith(`${m.mountPath}/`));
    expect(mount.readOnly).toBe(true);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    expect(volume.secret.secretName).toBe("trustgate-admin-token");
    expect(tokenFile.slice(mount.mountPath.length + 1)).toBe("admin-token");
    const readme = text("envoy-configs/README.md");
    expect(readme).toContain("create secret generic trustgate-admin-token --from-literal=admin-token=");
    expect(readme).toContain("get secret trustgate-admin-token -o jsonpath='{.data.admin-token}' | base64 -d");
  });
});

describe("Falco → trustgate", () => {
  it("compose: Falco posts to Falcosidekick, which posts to trustgate's /v1/falco with trustgate's token", () => {
    const falco = yaml("envoy-configs/compose/falco/trustgate.yaml");
    expect(falco.http_output).toMatchObject({ enabled: true, url: "http://falcosidekick:2801/" });
    expect(falco.json_output).toBe(true);
    expect(falco.json_include_output_fields_property).toBe(true);
    expect(falco.engine.kind).toBe("modern_ebpf");
    expect(services.falco.privileged).toBe(true);
    const sidekick = env("falcosidekick");
    expect(sidekick.WEBHOOK_ADDRESS).toBe(`http://${mesh.trustgateHost}:${mesh.trustgateAdminPort}/v1/falco`);
    const token = env("trustgate").TRUSTGATE_FALCO_TOKEN;
    expect(token).toMatch(/^demo-/); // the clearly marked demo default
    expect(sidekick.WEBHOOK_CUSTOMHEADERS).toBe(`Authorization:Bearer ${token}`);
    // the token must survive Falcosidekick's "k:v,k:v" header parsing
    expect(token).not.toMatch(/[:,\s]/);
    // with a user-supplied token both sides still get the same value
    const raw = compose.services;
    const userToken = { TRUSTGATE_FALCO_TOKEN: "s3cret" };
    expect(interpolate(raw.trustgate.environment.TRUSTGATE_FALCO_TOKEN, userToken)).toBe("s3cret");
    expect(interpolate(raw.falcosidekick.environment.WEBHOOK_CUSTOMHEADERS, userToken)).toBe(
      "Authorization:Bearer s3cret",
    );
  });

  it("Istio: Falcosidekick's webhook targets the trustgate Service's admin port; trustgate reads the token file it mounts", () => {
    expect(falcoValues.falcosidekick.enabled).toBe(true);
    expect(falcoValues.falcosidekick.config.webhook.address).toBe(
      `http://${svcHost}:${svcPort("http-admin")}/v1/falco`,
    );
    expect(falcoValues.driver.kind).toBe("modern_ebpf");
    expect(falcoValues.falco.json_output).toBe(true);
    const tokenFile: string = istioTrustgate.falco.tokenFile;
    const pod = istioDeployment.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: Obj) => tokenFile.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    expect(volume.secret.secretName).toBe("trustgate-falco-token");
    expect(tokenFile.slice(mount.mountPath.length + 1)).toBe("falco-token");
    expect(istioTrustgate.falco.mapping.strategy).toBe("kubernetes");
    expect(composeTrustgate.falco.mapping.strategy).toBe("static");
    const rbac = istioDocs.find((d) => d.kind === "ClusterRole") as Obj;
    expect(rbac.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
  });

  it("Istio: the k8saudit release forwards like the syscall release, once, without a heartbeat of its own", () => {
    expect(auditValues.falcosidekick.enabled).toBe(true);
    expect(auditValues.falcosidekick.config.webhook.address).toBe(falcoValues.falcosidekick.config.webhook.address);
    expect(auditValues.falcosidekick.config.existingSecret).toBe(falcoValues.falcosidekick.config.existingSecret);
    expect(auditValues.falco.json_output).toBe(true);
    expect(auditValues.falco.json_include_output_fields_property).toBe(true);
    expect(auditValues.driver.enabled).toBe(false);
    expect(auditValues.controller).toEqual({ kind: "deployment", deployment: { replicas: 1 } });
    expect(auditValues.falco.load_plugins).toEqual(["k8saudit", "json"]);
    expect(auditValues.falco.rules_files).toContain("/etc/falco/k8s_audit_rules.yaml");
    // The plugin listens where the webhook Service sends.
    const listen = /^http:\/\/:(\d+)\//.exec(auditValues.falco.plugins[0].open_params)!;
    expect(auditValues.services[0].ports[0].port).toBe(Number(listen[1]));
    expect(auditValues.falco.metrics.enabled).toBe(false);
    const rules = YAML.parse(auditValues.customRules["trustgate_k8saudit_rules.yaml"]) as Obj[];
    expect(rules.find((r) => r.macro === "consider_activity_events")).toMatchObject({
      condition: "(k8s_audit_never_true)",
      override: { condition: "replace" },
    });
    const secretRule = rules.find((r) => r.rule === "Secret Read With Service Account Token") as Obj;
    expect(secretRule).toMatchObject({ source: "k8s_audit", priority: "WARNING" });
    expect(secretRule.output).toContain("user=%ka.user.name");
    // trustgate maps audit alerts' pods through the pod directory (the kubernetes strategy).
    expect(istioTrustgate.falco.mapping.strategy).toBe("kubernetes");
  });

  it("compose and Istio load the same microservices rules", () => {
    const composeRules = YAML.parse(text("envoy-configs/compose/falco/microservices_rules.yaml"));
    const istioRules = YAML.parse(falcoValues.customRules["microservices_rules.yaml"]);
    expect(istioRules).toEqual(composeRules);
    expect(composeRules.map((r: Obj) => [r.rule, r.priority])).toEqual([
      ["Suspicious Container Network Activity", "WARNING"],
      ["Unauthorized Process in Service Container", "ERROR"],
      ["Service Accessing Sensitive Files", "CRITICAL"],
    ]);
  });
});

describe("the trustgate image and its config paths", () => {
  const dockerfile = text("authz-server/Dockerfile");

  it("is multi-stage, built with npm ci + build:server, non-root, with the gRPC health check", () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain("RUN npm ci");
    expect(dockerfile).toContain("npm run build:server");
    expect(dockerfile).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    expect(dockerfile).toContain(
      `CMD ["node", "authz-server/bin/trustgate.js", "health", "--addr", "127.0.0.1:${mesh.trustgateGrpcPort}"]`,
    );
    expect(dockerfile).toContain(`EXPOSE ${mesh.trustgateGrpcPort} ${mesh.trustgateAdminPort}`);
  });

  it("reads its config where compose and Kubernetes mount it", () => {
    const configPath = "/etc/trustgate/trustgate.yaml";
    expect(dockerfile).toContain(`CMD ["serve", "--config", "${configPath}"]`);
    expect(services.trustgate.volumes).toContain(`./envoy-configs/compose/trustgate/trustgate.yaml:${configPath}:ro`);
    const c = istioDeployment.spec.template.spec.containers[0];
    expect(c.args).toEqual(["serve", "--config", configPath]);
    expect(c.volumeMounts.find((m: Obj) => m.mountPath === configPath)).toMatchObject({ subPath: "trustgate.yaml" });
    // policies and workload inventory
    expect(services.trustgate.volumes).toContain(`./policies:${composeTrustgate.policies.dir}:ro`);
    expect(services.trustgate.volumes).toContain(
      `./envoy-configs/compose/trustgate/workloads.yaml:${composeTrustgate.workloads.file}:ro`,
    );
    expect(c.volumeMounts.find((m: Obj) => m.mountPath === istioTrustgate.policies.dir)).toBeDefined();
    // the image has no shell entrypoint: Falco sees `node`, which the microservices rules allow
    expect(dockerfile).toContain('ENTRYPOINT ["node", "--max-semi-space-size=4", "authz-server/bin/trustgate.js"]');
  });

  it("filter headers are trusted in compose (every sidecar runs the filter) and not in the plain Istio install", () => {
    expect(composeTrustgate.identity.trustFilterHeaders).toBe(true);
    expect(istioTrustgate.identity.trustFilterHeaders).toBe(false);
  });
});
