// The strict Envoy decoder tested on its own: a valid bootstrap passes, and each kind of mistake in a
// mutated copy is reported with the path to the offending value.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseDuration } from "./duration.js";
import { checkEnvoyMessage, validateEnvoyBootstrap } from "./envoy-config.js";
import { formatIssues, type Issue } from "./issues.js";
import { loadEnvoyApi } from "./proto-root.js";

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are reshaped freely
type Obj = Record<string, any>;

const bootstrapFile = join(import.meta.dirname, "..", "compose", "envoy", "order.yaml");
const load = (): Obj => YAML.parse(readFileSync(bootstrapFile, "utf8"));
const HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
const hcm = (c: Obj): Obj => c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const extAuthz = (c: Obj): Obj => hcm(c).http_filters[1].typed_config;
const EXT_AUTHZ = `${HCM}.http_filters[1].typed_config`;

function expectIssue(issues: Issue[], path: string, message: RegExp): void {
  const hit = issues.find((i) => i.path === path && message.test(i.message));
  expect(hit, `expected ${path}: ${message}\ngot:\n${formatIssues(issues)}`).toBeDefined();
}

describe("Envoy API loading", () => {
  it("loads the complete v3 API from @grpc/grpc-js-xds", () => {
    const api = loadEnvoyApi();
    expect(api.loadedFiles.length).toBeGreaterThan(300);
    // only files whose imports the package does not ship are left out
    expect(api.skippedFiles.length).toBeLessThan(10);
    expect(
      api.root.lookupType("envoy.extensions.filters.http.ext_authz.v3.ExtAuthz").fields.include_peer_certificate,
    ).toBeDefined();
  });
});

describe("strict decoding of an Envoy bootstrap", () => {
  it("accepts the rendered sidecar bootstrap", () => {
    expect(formatIssues(validateEnvoyBootstrap(load()))).toBe("");
  });

  it("rejects an unknown field", () => {
    const c = load();
    extAuthz(c).include_peer_certificates = true;
    expectIssue(
      validateEnvoyBootstrap(c),
      `${EXT_AUTHZ}.include_peer_certificates`,
      /unknown field "include_peer_certificates"/,
    );
  });

  it("rejects a wrong JSON type", () => {
    const c = load();
    c.static_resources.clusters[0].connect_timeout = 5;
    expectIssue(
      validateEnvoyBootstrap(c),
      "static_resources.clusters[0].connect_timeout",
      /expected a duration string/,
    );
    const d = load();
    extAuthz(d).include_peer_certificate = "true";
    expectIssue(validateEnvoyBootstrap(d), `${EXT_AUTHZ}.include_peer_certificate`, /expected true or false/);
    const e = load();
    e.static_resources.listeners[0].address.socket_address.port_value = "fifteen";
    expectIssue(
      validateEnvoyBootstrap(e),
      "static_resources.listeners[0].address.socket_address.port_value",
      /expected an integer/,
    );
  });

  it("rejects an unknown enum value", () => {
    const c = load();
    extAuthz(c).transport_api_version = "V4";
    expectIssue(
      validateEnvoyBootstrap(c),
      `${EXT_AUTHZ}.transport_api_version`,
      /unknown value "V4" for enum envoy\.config\.core\.v3\.ApiVersion/,
    );
    const d = load();
    extAuthz(d).status_on_error.code = "Teapot";
    expectIssue(validateEnvoyBootstrap(d), `${EXT_AUTHZ}.status_on_error.code`, /unknown value "Teapot"/);
  });

  it("rejects an unknown @type URL, with a hint for the removed v2 API", () => {
    const c = load();
    extAuthz(c)["@type"] = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth";
    expectIssue(validateEnvoyBootstrap(c), `${EXT_AUTHZ}.@type`, /unknown @type/);
    const d = load();
    hcm(d)["@type"] =
      "type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager";
    expectIssue(validateEnvoyBootstrap(d), `${HCM}.@type`, /v2 API was removed/);
  });

  it("enforces protoc-gen-validate rules: min_len, ranges, required, duration bounds", () => {
    const c = load();
    extAuthz(c).grpc_service.envoy_grpc.cluster_name = "";
    expectIssue(validateEnvoyBootstrap(c), `${EXT_AUTHZ}.grpc_service.envoy_grpc.cluster_name`, /must not be empty/);
    const d = load();
    d.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000;
    expectIssue(
      validateEnvoyBootstrap(d),
      "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value",
      /must be <= 65535/,
    );
    const e = load();
    e.static_resources.clusters[1].health_checks[0].timeout = "0s";
    expectIssue(validateEnvoyBootstrap(e), "static_resources.clusters[1].health_checks[0].timeout", /must be > 0s/);
    const f = load();
    delete f.static_resources.clusters[1].health_checks[0].interval;
    expectIssue(
      validateEnvoyBootstrap(f),
      "static_resources.clusters[1].health_checks[0].interval",
      /required field "interval" is missing/,
    );
    const g = load();
    delete hcm(g).stat_prefix;
    expectIssue(validateEnvoyBootstrap(g), `${HCM}.stat_prefix`, /must not be empty/);
  });

  it("rejects two members of one oneof and a missing required oneof", () => {
    const c = load();
    c.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe = { path: "/x" };
    expectIssue(
      validateEnvoyBootstrap(c),
      "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address",
      /only one of socket_address, pipe, envoy_internal_address/,
    );
    const d = load();
    delete d.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    expectIssue(
      validateEnvoyBootstrap(d),
      "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address",
      /one of socket_address, pipe, envoy_internal_address is required/,
    );
  });

  it("rejects deprecated fields and null values", () => {
    const c = load();
    hcm(c).route_config.request_headers_to_add = [{ header: { key: "x-demo", value: "1" }, append: true }];
    expectIssue(
      validateEnvoyBootstrap(c),
      `${HCM}.route_config.request_headers_to_add[0].append`,
      /"append" is deprecated/,
    );
    const d = load();
    extAuthz(d).stat_prefix = null;
    expectIssue(validateEnvoyBootstrap(d), `${EXT_AUTHZ}.stat_prefix`, /null is not a value here/);
  });

  it("accepts lowerCamel JSON names like Envoy does, but not the same field twice", () => {
    const c = load();
    const e = extAuthz(c);
    e.includePeerCertificate = e.include_peer_certificate;
    delete e.include_peer_certificate;
    expect(formatIssues(validateEnvoyBootstrap(c))).toBe("");
    e.include_peer_certificate = true;
    expectIssue(validateEnvoyBootstrap(c), `${EXT_AUTHZ}.include_peer_certificate`, /set twice/);
  });

  it("checks wrapper types, maps and values inside Any by their own types", () => {
    expect(
      checkEnvoyMessage("envoy.config.cluster.v3.Cluster", {
        name: "x",
        per_connection_buffer_limit_bytes: "big",
      }),
    ).toEqual([
      { path: "per_connection_buffer_limit_bytes", message: 'expected an integer (uint32), got string "big"' },
    ]);
    const wasmConfig = load();
    hcm(wasmConfig).http_filters[0].typed_config.config.configuration = {
      "@type": "type.googleapis.com/google.protobuf.StringValue",
      value: 42,
    };
    expectIssue(
      validateEnvoyBootstrap(wasmConfig),
      `${HCM}.http_filters[0].typed_config.config.configuration.value`,
      /expected a string/,
    );
  });

  it("resolves cross-references: clusters, filter order, router last", () => {
    const c = load();
    hcm(c).route_config.virtual_hosts[0].routes[0].route.cluster = "nope";
    expectIssue(
      validateEnvoyBootstrap(c),
      `${HCM}.route_config.virtual_hosts[0].routes[0].route.cluster`,
      /cluster "nope", which is not defined/,
    );
    const d = load();
    const f = hcm(d).http_filters;
    [f[0], f[1]] = [f[1], f[0]];
    expectIssue(validateEnvoyBootstrap(d), `${HCM}.http_filters`, /wasm filter must run before ext_authz/);
    const e = load();
    hcm(e).http_filters.push(hcm(e).http_filters.shift());
    expectIssue(validateEnvoyBootstrap(e), `${HCM}.http_filters`, /last HTTP filter must be the router/);
    const g = load();
    g.static_resources.clusters.push({ ...g.static_resources.clusters[0] });
    expectIssue(
      validateEnvoyBootstrap(g),
      `static_resources.clusters[${g.static_resources.clusters.length - 1}].name`,
      /duplicate cluster name/,
    );
  });

  it("finds per-route filter settings for a filter that is not in the chain", () => {
    const c = load();
    const route = hcm(c).route_config.virtual_hosts[0].routes[0];
    route.typed_per_filter_config["envoy.filters.http.extauthz"] =
      route.typed_per_filter_config["envoy.filters.http.ext_authz"];
    delete route.typed_per_filter_config["envoy.filters.http.ext_authz"];
    expectIssue(
      validateEnvoyBootstrap(c),
      `${HCM}.route_config.virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.extauthz`,
      /no HTTP filter named "envoy.filters.http.extauthz"/,
    );
  });

  it("finds the wasm filter's revocation cluster inside its JSON configuration", () => {
    const c = load();
    const wasm = hcm(c).http_filters[0].typed_config.config.configuration;
    wasm.value = wasm.value.replace('"trustgate_admin"', '"trustgate_admn"');
    expectIssue(
      validateEnvoyBootstrap(c),
      `${HCM}.http_filters[0].typed_config.config.configuration.value`,
      /cluster "trustgate_admn"/,
    );
  });
});

describe("protoc-gen-validate rules on single messages", () => {
  const msgs = (type: string, value: unknown) => checkEnvoyMessage(type, value).map((i) => `${i.path}: ${i.message}`);

  it("well-known header regexes", () => {
    expect(msgs("envoy.config.core.v3.HeaderValue", { key: "x-ok", value: "fine" })).toEqual([]);
    // Envoy uses the non-strict forms here: only NUL, CR and LF are refused, and the name must not be empty
    expect(msgs("envoy.config.core.v3.HeaderValue", { key: "", value: "v" })).toEqual(["key: must not be empty"]);
    expect(msgs("envoy.config.core.v3.HeaderValue", { key: "x\rbad", value: "v" })).toEqual([
      "key: must be a valid HTTP header name",
    ]);
    expect(msgs("envoy.config.core.v3.HeaderValue", { key: "x", value: "a\nb" })).toEqual([
      "value: must be a valid HTTP header value",
    ]);
  });

  it("repeated min_items and item rules, also when the list is absent", () => {
    expect(msgs("envoy.config.route.v3.VirtualHost", { name: "v", domains: ["a"] })).toEqual([]);
    expect(msgs("envoy.config.route.v3.VirtualHost", { name: "v" })).toEqual(["domains: must have at least one item"]);
    expect(msgs("envoy.config.route.v3.VirtualHost", { name: "v", domains: ["a\nb"] })).toEqual([
      "domains[0]: must be a valid HTTP header value",
    ]);
  });

  it("enum numbers must be defined, integers must be in range", () => {
    expect(msgs("envoy.extensions.filters.http.ext_authz.v3.ExtAuthz", { transport_api_version: 7 })).toEqual([
      "transport_api_version: number 7 is not a value of enum envoy.config.core.v3.ApiVersion",
    ]);
    expect(msgs("envoy.config.core.v3.SocketAddress", { address: "a", port_value: -1 })).toEqual([
      "port_value: -1 is out of range for uint32",
    ]);
    expect(msgs("envoy.config.core.v3.SocketAddress", { address: "a", port_value: "80" })).toEqual([]);
  });

  it("maps: keys and values are checked by their types", () => {
    expect(
      msgs("envoy.extensions.filters.http.ext_authz.v3.CheckSettings", {
        context_extensions: { "trustgate.namespace": "data" },
      }),
    ).toEqual([]);
    expect(msgs("envoy.extensions.filters.http.ext_authz.v3.CheckSettings", { context_extensions: { ns: 5 } })).toEqual(
      ["context_extensions.ns: expected a string, got number 5"],
    );
  });
});

describe("durations", () => {
  it("parses proto3 JSON durations", () => {
    expect(parseDuration("0.25s")).toEqual({ seconds: 0, nanos: 250_000_000 });
    expect(parseDuration("-1.5s")).toEqual({ seconds: -1, nanos: -500_000_000 });
    expect(parseDuration("300s")).toEqual({ seconds: 300, nanos: 0 });
    for (const bad of ["1", "1m", "0.1234567891s", "s", " 1s"]) expect(parseDuration(bad)).toBeNull();
  });
});
