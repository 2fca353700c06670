#!/usr/bin/env node
// Renders the local mesh's generated files from the workload inventory (trustgate/workloads.yaml):
//   envoy/<name>.yaml     one Envoy sidecar bootstrap per workload
//   spire/entries.json    the SPIRE registration entries (one SPIFFE ID per workload)
// `npm run mesh:render` writes them; `npm run mesh:render -- --check` exits 1 when a committed file is stale.
// The test suite runs the same comparison, so the committed files can never drift from this template.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const composeDir = dirname(fileURLToPath(import.meta.url));

/** Facts of the local mesh that several files must agree on (the consistency test checks them all). */
export const mesh = Object.freeze({
  trustDomain: "cluster.local",
  appPort: 8080, // each demo app listens on 127.0.0.1:8080, reachable only through its sidecar
  inboundPort: 15006, // mTLS listener of each sidecar, the address other services call
  outboundPort: 15001, // plaintext listener on 127.0.0.1 through which the app calls other services
  adminPort: 9901, // Envoy admin, 127.0.0.1 only
  spireSocket: "/run/spire/sockets/agent.sock",
  spireAgentId: "spiffe://cluster.local/spire/agent/http_challenge/spire-agent",
  trustgateHost: "trustgate",
  trustgateGrpcPort: 9191,
  trustgateAdminPort: 9192,
  grpcCluster: "trustgate_grpc",
  adminCluster: "trustgate_admin",
  wasmPath: "/etc/envoy/trustgate_filter.wasm",
  extAuthzTimeout: "0.25s",
  revocationPath: "/v1/revocations",
  revocationPollMs: 2000,
  otelCluster: "otel_collector",
  otelCollectorHost: "otel-collector",
  otelCollectorGrpcPort: 4317,
});

/** @typedef {{name: string, namespace: string, serviceAccount: string, labels: Record<string,string>, containers: string[]}} Workload */

/** @returns {Workload[]} */
export function loadWorkloads(file = join(composeDir, "trustgate", "workloads.yaml")) {
  return YAML.parse(readFileSync(file, "utf8")).workloads;
}

/** @param {Workload} w */
export function spiffeId(w) {
  return `spiffe://${mesh.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
}

/** The wasm filter's configuration (a JSON string handed to the plugin on configure). */
export function wasmPluginConfig() {
  return JSON.stringify({
    requireMtls: true,
    allowedTrustDomains: [mesh.trustDomain],
    revocation: {
      cluster: mesh.adminCluster,
      authority: mesh.trustgateHost,
      path: mesh.revocationPath,
      pollMs: mesh.revocationPollMs,
    },
  });
}

const sdsConfig = () => ({
  resource_api_version: "V3",
  api_config_source: {
    api_type: "GRPC",
    transport_api_version: "V3",
    grpc_services: [{ envoy_grpc: { cluster_name: "spire_agent" } }],
  },
});

/** TLS material from the SPIRE agent over SDS: our own SVID, and the trust bundle of the trust domain. */
function commonTlsContext(ownId, peerSanMatcher) {
  return {
    tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
    tls_certificate_sds_secret_configs: [{ name: ownId, sds_config: sdsConfig() }],
    combined_validation_context: {
      // Static part: which peers are acceptable at all. SPIRE answers the SDS part below with the
      // SPIFFE certificate validator (envoy.tls.cert_validator.spiffe) holding the bundle, which honours
      // these SAN matchers.
      default_validation_context: { match_typed_subject_alt_names: [{ san_type: "URI", matcher: peerSanMatcher }] },
      validation_context_sds_secret_config: { name: `spiffe://${mesh.trustDomain}`, sds_config: sdsConfig() },
    },
  };
}

function socketAddress(address, port) {
  return { socket_address: { address, port_value: port } };
}

function cluster(name, address, port, extra = {}) {
  return {
    name,
    type: "STRICT_DNS",
    dns_lookup_family: "V4_ONLY",
    connect_timeout: "1s",
    ...extra,
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address, port) } }] }],
    },
  };
}

const http2Options = () => ({
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    explicit_http_config: { http2_protocol_options: {} },
  },
});

const stdoutAccessLog = () => [
  {
    name: "envoy.access_loggers.stdout",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog" },
  },
];

/**
 * Tracing for both HTTP connection managers: Envoy's OpenTelemetry tracer reports to the compose collector and
 * propagates W3C `traceparent`, so the outbound sidecar's span context reaches the inbound sidecar, whose ext_authz
 * CheckRequest carries it to trustgate (which parents its `trustgate.check` span on it).
 */
function tracing(w) {
  return {
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
        grpc_service: { envoy_grpc: { cluster_name: mesh.otelCluster }, timeout: "1s" },
        service_name: `envoy-${w.name}`,
      },
    },
    random_sampling: { value: 100 },
  };
}

/** The wasm → ext_authz → router chain of the inbound listener. */
export function inboundHttpFilters() {
  return [
    {
      name: "envoy.filters.http.wasm",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        config: {
          name: "trustgate",
          root_id: "trustgate",
          vm_config: {
            vm_id: "trustgate",
            runtime: "envoy.wasm.runtime.v8",
            code: { local: { filename: mesh.wasmPath } },
          },
          configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: wasmPluginConfig() },
          // No fail_open: a plugin that fails to load or traps fails closed (503).
        },
      },
    },
    {
      name: "envoy.filters.http.ext_authz",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
        transport_api_version: "V3",
        grpc_service: { envoy_grpc: { cluster_name: mesh.grpcCluster }, timeout: mesh.extAuthzTimeout },
        // Fail closed: trustgate unreachable or too slow -> 503 (not a policy deny, so it is told apart in logs).
        // Choosing fail-open here would still leave the wasm filter's revocation list enforcing locally.
        failure_mode_allow: false,
        status_on_error: { code: "ServiceUnavailable" },
        include_peer_certificate: true,
        // The TLS session's SNI, so `connection.sni` conditions are known to trustgate (without it they are not).
        include_tls_session: true,
        // Verified JWT payloads, for requestPrincipals and request.auth.* (trustgate's jwt.enabled). This mesh has no
        // jwt_authn filter, so nothing is forwarded today; a jwt_authn filter placed before ext_authz would be.
        metadata_context_namespaces: ["envoy.filters.http.jwt_authn"],
        bootstrap_metadata_labels_key: "LABELS",
        stat_prefix: "trustgate",
      },
    },
    {
      name: "envoy.filters.http.router",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
    },
  ];
}

/** @param {Workload} w @param {Workload[]} all */
export function sidecarBootstrap(w, all) {
  const ownId = spiffeId(w);
  const peers = all.filter((p) => p.name !== w.name);
  const inbound = {
    name: "inbound",
    address: socketAddress("0.0.0.0", mesh.inboundPort),
    filter_chains: [
      {
        transport_socket: {
          name: "envoy.transport_sockets.tls",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            require_client_certificate: true,
            common_tls_context: commonTlsContext(ownId, { prefix: `spiffe://${mesh.trustDomain}/` }),
          },
        },
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "inbound",
              codec_type: "AUTO",
              tracing: tracing(w),
              normalize_path: true,
              merge_slashes: true,
              path_with_escaped_slashes_action: "REJECT_REQUEST",
              forward_client_cert_details: "SANITIZE",
              access_log: stdoutAccessLog(),
              route_config: {
                name: "inbound",
                virtual_hosts: [
                  {
                    name: "local_app",
                    domains: ["*"],
                    routes: [
                      {
                        match: { prefix: "/" },
                        route: { cluster: "local_app" },
                        typed_per_filter_config: {
                          "envoy.filters.http.ext_authz": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
                            // A trusted hint from the sidecar's own configuration, never from the caller.
                            check_settings: { context_extensions: { "trustgate.namespace": w.namespace } },
                          },
                        },
                      },
                    ],
                  },
                ],
              },
              http_filters: inboundHttpFilters(),
            },
          },
        ],
      },
    ],
  };
  const outbound = {
    name: "outbound",
    address: socketAddress("127.0.0.1", mesh.outboundPort),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "outbound",
              codec_type: "AUTO",
              tracing: tracing(w),
              strip_any_host_port: true,
              access_log: stdoutAccessLog(),
              route_config: {
                name: "outbound",
                // The app picks the destination with the Host header: http://127.0.0.1:15001 + Host: <service>.
                virtual_hosts: peers.map((p) => ({
                  name: p.name,
                  domains: [p.name],
                  routes: [{ match: { prefix: "/" }, route: { cluster: `outbound_${p.name}` } }],
                })),
              },
              http_filters: [
                {
                  name: "envoy.filters.http.router",
                  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                },
              ],
            },
          },
        ],
      },
    ],
  };
  const outboundClusters = peers.map((p) =>
    cluster(`outbound_${p.name}`, p.name, mesh.inboundPort, {
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          // Present our own SVID, and accept only the destination's exact SPIFFE ID.
          common_tls_context: commonTlsContext(ownId, { exact: spiffeId(p) }),
        },
      },
    }),
  );
  return {
    node: { id: `envoy-${w.name}`, cluster: w.name, metadata: { LABELS: { ...w.labels } } },
    admin: { address: socketAddress("127.0.0.1", mesh.adminPort) },
    static_resources: {
      listeners: [inbound, outbound],
      clusters: [
        { ...cluster("local_app", "127.0.0.1", mesh.appPort), type: "STATIC" },
        cluster(mesh.grpcCluster, mesh.trustgateHost, mesh.trustgateGrpcPort, {
          typed_extension_protocol_options: http2Options(),
          health_checks: [
            {
              timeout: "1s",
              interval: "5s",
              unhealthy_threshold: 2,
              healthy_threshold: 1,
              grpc_health_check: {},
            },
          ],
        }),
        cluster(mesh.adminCluster, mesh.trustgateHost, mesh.trustgateAdminPort),
        cluster(mesh.otelCluster, mesh.otelCollectorHost, mesh.otelCollectorGrpcPort, {
          typed_extension_protocol_options: http2Options(),
        }),
        {
          name: "spire_agent",
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: http2Options(),
          load_assignment: {
            cluster_name: "spire_agent",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: mesh.spireSocket } } } }] }],
          },
        },
        ...outboundClusters,
      ],
    },
  };
}

/** SPIRE registration entries: the Envoy sidecar container of each workload gets that workload's ID. */
export function spireEntries(all) {
  return {
    entries: all.map((w) => ({
      spiffe_id: spiffeId(w),
      parent_id: mesh.spireAgentId,
      selectors: [{ type: "docker", value: `label:com.docker.compose.service:envoy-${w.name}` }],
      x509_svid_ttl: 3600,
      hint: w.name,
    })),
  };
}

const HEADER =
  "# Generated by `npm run mesh:render` from envoy-configs/compose/trustgate/workloads.yaml. Do not edit.\n";

/** Every generated file: path relative to envoy-configs/compose → expected content. */
export function renderAll(all = loadWorkloads()) {
  const files = new Map();
  for (const w of all) {
    files.set(`envoy/${w.name}.yaml`, HEADER + YAML.stringify(sidecarBootstrap(w, all), { lineWidth: 0 }));
  }
  files.set("spire/entries.json", `${JSON.stringify(spireEntries(all), null, 2)}\n`);
  return files;
}

/** Paths whose committed content differs from what the template renders now. */
export function staleFiles(all = loadWorkloads()) {
  const stale = [];
  for (const [rel, content] of renderAll(all)) {
    let current = "";
    try {
      current = readFileSync(join(composeDir, rel), "utf8");
    } catch {
      // missing counts as stale
    }
    if (current !== content) stale.push(rel);
  }
  return stale;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--check")) {
    const stale = staleFiles();
    if (stale.length > 0) {
      console.error(`stale generated files (run npm run mesh:render): ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log("generated mesh files are up to date");
  } else {
    for (const [rel, content] of renderAll()) writeFileSync(join(composeDir, rel), content);
    console.log(`rendered ${renderAll().size} files under envoy-configs/compose/`);
  }
}
