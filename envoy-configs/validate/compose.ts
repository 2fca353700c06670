// Validates docker-compose.yml: the Compose specification's JSON schema (as shipped by dclint), then the
// cross-references `docker compose up` would only discover at run time: mounted files that do not exist,
// Envoy clusters pointing at hosts or ports no service offers, socket paths that disagree, and so on.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, posix } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import YAML from "yaml";
import { validateEnvoyBootstrap } from "./envoy-config.js";
import { childPath, type Issue } from "./issues.js";

type Obj = Record<string, unknown>;

const require = createRequire(import.meta.url);
/** The Compose specification schema, as dclint ships it (compose-spec/compose-spec `schema/compose-spec.json`). */
export const composeSchemaFile = join(
  dirname(require.resolve("dclint/package.json")),
  "schemas",
  "compose.schema.json",
);

let validateSchema: ((doc: unknown) => boolean) & { errors?: ErrorObject[] | null } = Object.assign(() => true, {});
let compiled = false;

function schemaValidator(): typeof validateSchema {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(composeSchemaFile, "utf8")) as Obj;
    delete schema.$schema; // draft-07 written with an https URL that Ajv does not know by that name
    const ajv = new Ajv({ allErrors: true, strict: false });
    validateSchema = ajv.compile(schema);
    compiled = true;
  }
  return validateSchema;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses YAML the way Compose does (merge keys on), failing on duplicate keys and YAML errors. */
export function parseComposeYaml(text: string): { doc: unknown; issues: Issue[] } {
  const parsed = YAML.parseDocument(text, { merge: true, uniqueKeys: true });
  const issues = [...parsed.errors, ...parsed.warnings].map((e) => ({ path: "", message: `YAML: ${e.message}` }));
  return { doc: parsed.toJS({ maxAliasCount: -1 }), issues };
}

/** Checks the document against the Compose specification schema. */
export function checkComposeSchema(doc: unknown): Issue[] {
  const validate = schemaValidator();
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => {
    const path = e.instancePath
      .split("/")
      .slice(1)
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((acc, seg) => childPath(acc, /^\d+$/.test(seg) ? Number(seg) : seg), "");
    const extra = e.keyword === "additionalProperties" ? ` "${String(e.params.additionalProperty)}"` : "";
    return { path, message: `Compose schema: ${e.message ?? e.keyword}${extra}` };
  });
}

/**
 * Compose variable interpolation with the defaults written in the file (${VAR:-default}, ${VAR-default}). A required
 * variable (${VAR:?message}, ${VAR?message}) that is missing reads as "" here; Compose refuses to start with the
 * message, which `requiredVariables` lists.
 */
export function interpolate(value: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (_m, name: string, op?: string, def?: string) => {
      const v = env[name];
      if (op === ":-") return v ? v : (def ?? "");
      if (op === "-") return v !== undefined ? v : (def ?? "");
      return v ?? "";
    },
  );
}

/** The variables a value requires (${VAR:?message}), each with the message Compose prints when it is missing. */
export function requiredVariables(value: string): Array<{ name: string; message: string }> {
  return [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?([^}]*)\}/g)].map((m) => ({
    name: m[1]!,
    message: m[2]!,
  }));
}

export interface Mount {
  source: string;
  target: string;
  type: "bind" | "volume";
  readOnly: boolean;
}

/** The mounts of one service, short and long syntax, with bind sources resolved against the project dir. */
export function serviceMounts(service: Obj, projectDir: string): Mount[] {
  const mounts: Mount[] = [];
  for (const v of Array.isArray(service.volumes) ? service.volumes : []) {
    if (typeof v === "string") {
      const [source = "", target = "", mode = ""] = interpolate(v).split(":");
      const bind = source.startsWith(".") || source.startsWith("/");
      mounts.push({
        source: bind ? posix.normalize(source.startsWith("/") ? source : join(projectDir, source)) : source,
        target,
        type: bind ? "bind" : "volume",
        readOnly: mode.split(",").includes("ro"),
      });
    } else if (isObj(v)) {
      const source = interpolate(String(v.source ?? ""));
      const bind = v.type === "bind";
      mounts.push({
        source: bind ? (source.startsWith("/") ? source : join(projectDir, source)) : source,
        target: String(v.target ?? ""),
        type: bind ? "bind" : "volume",
        readOnly: v.read_only === true,
      });
    }
  }
  return mounts;
}

function environment(service: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  if (Array.isArray(service.environment)) {
    for (const item of service.environment) {
      const [k, ...rest] = String(item).split("=");
      if (k) env[k] = interpolate(rest.join("="));
    }
  } else if (isObj(service.environment)) {
    for (const [k, v] of Object.entries(service.environment)) env[k] = interpolate(String(v ?? ""));
  }
  return env;
}

export interface ComposeModel {
  services: Map<string, Obj>;
  /** Host names that resolve on the compose network: service names, container names, hostnames. */
  hostOf: Map<string, string>;
  env: (service: string) => Record<string, string>;
  mounts: (service: string) => Mount[];
}

export function composeModel(doc: unknown, projectDir: string): ComposeModel {
  const services = new Map<string, Obj>();
  const hostOf = new Map<string, string>();
  const raw = isObj(doc) && isObj(doc.services) ? doc.services : {};
  for (const [name, s] of Object.entries(raw)) {
    if (!isObj(s)) continue;
    services.set(name, s);
    hostOf.set(name, name);
    if (typeof s.container_name === "string") hostOf.set(s.container_name, name);
    if (typeof s.hostname === "string") hostOf.set(s.hostname, name);
  }
  return {
    services,
    hostOf,
    env: (n) => environment(services.get(n) ?? {}),
    mounts: (n) => serviceMounts(services.get(n) ?? {}, projectDir),
  };
}

/** The service whose network namespace a service uses (itself, or X for network_mode "service:X"). */
export function networkOwner(model: ComposeModel, name: string): string {
  const mode = model.services.get(name)?.network_mode;
  return typeof mode === "string" && mode.startsWith("service:") ? mode.slice("service:".length) : name;
}

export interface PortFacts {
  /** TCP ports each service listens on, as far as the repository's own configs tell. */
  listening: Map<string, Set<number>>;
}

/** Listening ports of a bootstrap's listeners. */
function envoyListenerPorts(bootstrap: Obj): number[] {
  const resources = isObj(bootstrap.static_resources) ? bootstrap.static_resources : {};
  const ports: number[] = [];
  for (const l of Array.isArray(resources.listeners) ? resources.listeners : []) {
    const sa = isObj(l) && isObj(l.address) && isObj(l.address.socket_address) ? l.address.socket_address : undefined;
    if (sa && typeof sa.port_value === "number" && sa.address !== "127.0.0.1") ports.push(sa.port_value);
  }
  return ports;
}

export interface EnvoyEndpoint {
  cluster: string;
  host?: string;
  port?: number;
  pipe?: string;
  path: string;
}

/** Every endpoint address of a bootstrap's static clusters. */
export function envoyEndpoints(bootstrap: unknown): EnvoyEndpoint[] {
  const out: EnvoyEndpoint[] = [];
  const resources = isObj(bootstrap) && isObj(bootstrap.static_resources) ? bootstrap.static_resources : {};
  (Array.isArray(resources.clusters) ? resources.clusters : []).forEach((c, ci) => {
    if (!isObj(c) || !isObj(c.load_assignment)) return;
    const eps = Array.isArray(c.load_assignment.endpoints) ? c.load_assignment.endpoints : [];
    eps.forEach((ep, ei) => {
      const lbs = isObj(ep) && Array.isArray(ep.lb_endpoints) ? ep.lb_endpoints : [];
      lbs.forEach((lb, li) => {
        const addr = isObj(lb) && isObj(lb.endpoint) && isObj(lb.endpoint.address) ? lb.endpoint.address : {};
        const path = `static_resources.clusters[${ci}].load_assignment.endpoints[${ei}].lb_endpoints[${li}].endpoint.address`;
        const name = String(c.name);
        if (isObj(addr.socket_address)) {
          out.push({
            cluster: name,
            host: String(addr.socket_address.address),
            port: Number(addr.socket_address.port_value),
            path,
          });
        }
        if (isObj(addr.pipe)) out.push({ cluster: name, pipe: String(addr.pipe.path), path });
      });
    });
  });
  return out;
}

/** Reads `key = "value"` from a SPIRE HCL config (the few keys the cross-checks need). */
export function hclString(text: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, "m").exec(text)?.[1];
}

/** `host:port` of a listen address like "0.0.0.0:9191". */
function portOf(addr: string | undefined): number | undefined {
  const m = addr ? /:(\d+)$/.exec(addr) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * Cross-references across docker-compose.yml and the files it mounts. `projectDir` is the directory of the
 * compose file (the repository root).
 */
export function checkComposeReferences(doc: unknown, projectDir: string): Issue[] {
  const issues: Issue[] = [];
  const model = composeModel(doc, projectDir);
  const declaredVolumes = new Set(isObj(doc) && isObj(doc.volumes) ? Object.keys(doc.volumes) : []);
  const svcPath = (n: string) => childPath("services", n);

  // Files and volumes.
  for (const [name, s] of model.services) {
    for (const m of model.mounts(name)) {
      if (m.type === "volume") {
        if (!declaredVolumes.has(m.source)) {
          issues.push({
            path: childPath(svcPath(name), "volumes"),
            message: `named volume "${m.source}" is not declared`,
          });
        }
        continue;
      }
      if (m.source.startsWith(projectDir) && !existsSync(m.source) && !isBuildOutput(m.source, projectDir)) {
        issues.push({
          path: childPath(svcPath(name), "volumes"),
          message: `mounted file ${m.source.slice(projectDir.length + 1)} does not exist`,
        });
      }
    }
    const build = s.build;
    const context = typeof build === "string" ? build : isObj(build) ? String(build.context ?? ".") : undefined;
    if (context !== undefined) {
      const dir = join(projectDir, context);
      const dockerfile = isObj(build) && typeof build.dockerfile === "string" ? build.dockerfile : "Dockerfile";
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        issues.push({ path: childPath(svcPath(name), "build"), message: `build context ${context} does not exist` });
      } else if (!existsSync(join(dir, dockerfile))) {
        issues.push({
          path: childPath(svcPath(name), "build"),
          message: `Dockerfile ${join(context, dockerfile)} does not exist`,
        });
      }
    }
    const deps = isObj(s.depends_on)
      ? Object.keys(s.depends_on)
      : Array.isArray(s.depends_on)
        ? s.depends_on.map(String)
        : [];
    for (const d of deps) {
      if (!model.services.has(d))
        issues.push({ path: childPath(svcPath(name), "depends_on"), message: `unknown service "${d}"` });
    }
    const owner = networkOwner(model, name);
    if (owner !== name && !model.services.has(owner)) {
      issues.push({ path: childPath(svcPath(name), "network_mode"), message: `unknown service "${owner}"` });
    }
  }

  // What each network namespace listens on, from the configs the services run with.
  const listening = new Map<string, Set<number>>();
  const listen = (service: string, port: number | undefined) => {
    if (port === undefined) return;
    const ns = networkOwner(model, service);
    const set = listening.get(ns) ?? new Set<number>();
    set.add(port);
    listening.set(ns, set);
  };
  const bootstraps = new Map<string, { file: string; config: Obj }>();
  for (const name of model.services.keys()) {
    for (const m of model.mounts(name)) {
      if (m.type !== "bind" || !existsSync(m.source) || statSync(m.source).isDirectory()) continue;
      if (m.target === "/etc/envoy/envoy.yaml") {
        const config = YAML.parse(readFileSync(m.source, "utf8")) as Obj;
        bootstraps.set(name, { file: m.source, config });
        for (const p of envoyListenerPorts(config)) listen(name, p);
      }
      if (m.target === "/etc/trustgate/trustgate.yaml") {
        const cfg = YAML.parse(readFileSync(m.source, "utf8")) as Obj;
        const env = model.env(name);
        listen(name, portOf(env.TRUSTGATE_GRPC_ADDR ?? (isObj(cfg.grpc) ? String(cfg.grpc.addr) : undefined)));
        listen(name, portOf(env.TRUSTGATE_HTTP_ADDR ?? (isObj(cfg.http) ? String(cfg.http.addr) : undefined)));
      }
      if (m.target === "/etc/otelcol/config.yaml") {
        // The OpenTelemetry collector listens where its OTLP receiver's protocols say.
        const cfg = YAML.parse(readFileSync(m.source, "utf8")) as Obj;
        const otlp = isObj(cfg.receivers) && isObj(cfg.receivers.otlp) ? cfg.receivers.otlp : {};
        const protocols = isObj(otlp.protocols) ? otlp.protocols : {};
        for (const proto of Object.values(protocols)) {
          if (isObj(proto)) listen(name, portOf(typeof proto.endpoint === "string" ? proto.endpoint : undefined));
        }
      }
      if (m.target.endsWith("/server.conf") && m.source.includes("spire")) {
        const port = hclString(readFileSync(m.source, "utf8"), "bind_port");
        listen(name, port ? Number(port) : undefined);
      }
    }
    const image = String(model.services.get(name)?.image ?? "");
    if (image.startsWith("falcosecurity/falcosidekick")) listen(name, 2801);
  }

  // OTLP exporters (trustgate's traces and decision lines) point at a service listening there.
  for (const name of model.services.keys()) {
    const endpoint = model.env(name).OTEL_EXPORTER_OTLP_ENDPOINT;
    if (endpoint === undefined) continue;
    const url = URL.canParse(endpoint) ? new URL(endpoint) : null;
    const service = url ? model.hostOf.get(url.hostname) : undefined;
    const port = url ? Number(url.port || (url.protocol === "https:" ? 443 : 80)) : Number.NaN;
    if (!service || !listening.get(networkOwner(model, service))?.has(port)) {
      issues.push({
        path: childPath(svcPath(name), "environment"),
        message: `OTEL_EXPORTER_OTLP_ENDPOINT ${endpoint} is not a compose service listening on that port`,
      });
    }
  }

  // Envoy bootstraps: valid, and every cluster address resolvable and listening.
  for (const [name, { file, config }] of bootstraps) {
    const where = file.slice(projectDir.length + 1);
    for (const i of validateEnvoyBootstrap(config)) issues.push({ path: `${where}: ${i.path}`, message: i.message });
    const mounts = model.mounts(name);
    for (const ep of envoyEndpoints(config)) {
      const at = `${where}: ${ep.path}`;
      if (ep.pipe !== undefined) {
        const mount = mounts.find((m) => ep.pipe?.startsWith(`${m.target}/`));
        if (!mount) {
          issues.push({ path: at, message: `socket ${ep.pipe} is not inside any volume mounted into ${name}` });
        } else {
          checkSocketProducer(model, mount, ep.pipe, name, at, issues);
        }
        continue;
      }
      if (ep.host === "127.0.0.1" || ep.host === "localhost") {
        const own = networkOwner(model, name);
        const appPort = Number(model.env(own).PORT ?? Number.NaN);
        if (ep.cluster === "local_app" && appPort !== ep.port) {
          issues.push({
            path: at,
            message: `local_app port ${ep.port} differs from the app's PORT (${model.env(own).PORT})`,
          });
        }
        continue;
      }
      const service = ep.host ? model.hostOf.get(ep.host) : undefined;
      if (!service) {
        issues.push({
          path: at,
          message: `cluster ${ep.cluster} points at "${ep.host}", which is not a compose service`,
        });
        continue;
      }
      const ports = listening.get(networkOwner(model, service));
      if (ep.port !== undefined && !ports?.has(ep.port)) {
        issues.push({
          path: at,
          message: `cluster ${ep.cluster} calls ${ep.host}:${ep.port}, but ${service} listens on ${[...(ports ?? [])].join(", ") || "no known port"}`,
        });
      }
    }
    // The wasm module the bootstrap loads must be mounted into the sidecar.
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/filename: (\S+\.wasm)/g)) {
      if (!mounts.some((mt) => mt.target === m[1])) {
        issues.push({ path: where, message: `wasm file ${m[1]} is not mounted into ${name}` });
      }
    }
  }
  return issues;
}

/** Socket paths: some other service must mount the same named volume where it creates that socket. */
function checkSocketProducer(
  model: ComposeModel,
  mount: Mount,
  socket: string,
  consumer: string,
  at: string,
  issues: Issue[],
): void {
  const relative = socket.slice(mount.target.length);
  for (const [name] of model.services) {
    if (name === consumer) continue;
    const other = model.mounts(name).find((m) => m.type === mount.type && m.source === mount.source);
    if (!other) continue;
    const producerPath = `${other.target}${relative}`;
    for (const conf of model.mounts(name)) {
      if (conf.type !== "bind" || !conf.target.endsWith(".conf") || !existsSync(conf.source)) continue;
      const declared = hclString(readFileSync(conf.source, "utf8"), "socket_path");
      if (declared !== undefined && declared !== producerPath) {
        issues.push({
          path: at,
          message: `${consumer} expects the socket at ${socket} (= ${producerPath} in ${name}), but ${name} creates ${declared}`,
        });
      }
      if (declared === producerPath) return;
    }
  }
  issues.push({ path: at, message: `no service creates the socket ${socket} in volume ${mount.source}` });
}

/** Files that `npm run build` produces (the wasm filter) may be absent before a build. */
function isBuildOutput(source: string, projectDir: string): boolean {
  const rel = source.slice(projectDir.length + 1);
  if (!rel.startsWith("wasm-filter/build/")) return false;
  const buildScript = join(projectDir, "wasm-filter", "scripts", "build.mjs");
  return existsSync(buildScript) && readFileSync(buildScript, "utf8").includes(posix.basename(rel));
}

/** Schema + cross-references for a compose file on disk. */
export function validateComposeFile(file: string): Issue[] {
  const { doc, issues } = parseComposeYaml(readFileSync(file, "utf8"));
  return [...issues, ...checkComposeSchema(doc), ...checkComposeReferences(doc, dirname(file))];
}
