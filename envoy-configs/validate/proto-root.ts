// Loads the upstream Envoy v3 API (shipped complete in @grpc/grpc-js-xds under deps/) with protobufjs,
// keeping field names as written in the .proto files so options and names are exactly upstream's.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);
const xdsPackageDir = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const protobufjsDir = dirname(require.resolve("protobufjs/package.json"));

/** Where imports are searched, in order (the same layout protoc is given for the Envoy API). */
export const envoyIncludeDirs = ["envoy-api", "googleapis", "protoc-gen-validate", "xds"].map((d) =>
  join(xdsPackageDir, "deps", d),
);

function resolveImport(target: string, includeDirs: readonly string[]): string | null {
  if (target.startsWith("google/protobuf/")) {
    const bundled = join(protobufjsDir, target);
    if (existsSync(bundled)) return bundled;
    // any/duration/struct/wrappers/timestamp/empty/field_mask are compiled into protobufjs itself.
    return target in protobuf.common ? target : null;
  }
  for (const dir of includeDirs) {
    const candidate = join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

function listProtos(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) listProtos(full, out);
    else if (entry.endsWith(".proto")) out.push(full);
  }
  return out;
}

/**
 * A few upstream files import protos that the package does not ship (OpenCensus, OpenTelemetry, Prometheus
 * client); those files, and only those, are left out. Returns true when every transitive import resolves.
 */
function importsResolve(target: string, includeDirs: readonly string[], memo: Map<string, boolean>): boolean {
  const known = memo.get(target);
  if (known !== undefined) return known;
  memo.set(target, true); // cycles count as resolvable; the real answer overwrites this below
  const file = resolveImport(target, includeDirs);
  let ok = file !== null;
  if (file?.endsWith(".proto") && existsSync(file)) {
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) {
      if (!importsResolve(m[1] as string, includeDirs, memo)) ok = false;
    }
  }
  memo.set(target, ok);
  return ok;
}

function buildRoot(entryFiles: readonly string[], includeDirs: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => resolveImport(target, includeDirs) ?? target;
  root.loadSync([...entryFiles], { keepCase: true });
  root.resolveAll();
  return root;
}

export interface EnvoyApi {
  root: protobuf.Root;
  /** .proto files of the v3 API that were loaded, relative to deps/envoy-api. */
  loadedFiles: string[];
  /** v3 files skipped because an import they need is not shipped. */
  skippedFiles: string[];
}

let envoyApi: EnvoyApi | undefined;

/** Every v3 (and v3alpha) message of the Envoy API, loaded once per process. */
export function loadEnvoyApi(): EnvoyApi {
  if (envoyApi) return envoyApi;
  const apiDir = envoyIncludeDirs[0] as string;
  const all = listProtos(join(apiDir, "envoy"))
    .map((f) => relative(apiDir, f))
    .filter((f) => /\/v3(alpha)?\//.test(f))
    .sort();
  const memo = new Map<string, boolean>();
  const loadedFiles = all.filter((f) => importsResolve(f, envoyIncludeDirs, memo));
  const skippedFiles = all.filter((f) => !loadedFiles.includes(f));
  envoyApi = { root: buildRoot(loadedFiles, envoyIncludeDirs), loadedFiles, skippedFiles };
  return envoyApi;
}

const schemaRoots = new Map<string, protobuf.Root>();

/** A root for the project's own schema .proto files (Istio kinds), resolving google/protobuf imports. */
export function loadSchemaRoot(protoFile: string): protobuf.Root {
  let root = schemaRoots.get(protoFile);
  if (!root) {
    // The schema files may use protoc-gen-validate rules, which the checker enforces.
    root = buildRoot([protoFile], [dirname(protoFile), ...envoyIncludeDirs]);
    schemaRoots.set(protoFile, root);
  }
  return root;
}
