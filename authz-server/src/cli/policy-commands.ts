/**
 * `trustgate policy test`, `trustgate policy lint`, `trustgate policy convert` and `trustgate explain`: policy
 * tooling that runs the same code as live decisions, offline against policy files (AuthorizationPolicy or
 * TrustgatePolicy) or (explain) against a running server. Policy locations are `--policy-dir` in every command
 * (default: TRUSTGATE_POLICY_DIR, else `policies`).
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import type { z } from "zod";
import { compileOptionsOf, requestSettingsOf } from "../app/settings.js";
import { loadConfig } from "../config/load-config.js";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { loadPolicySet } from "../policy/load-policy-set.js";
import { listYamlFiles } from "../policy/policy-files.js";
import { type ConvertTarget, convertPolicyText } from "../policy-tools/convert-policy.js";
import { explain, explanationJson, formatExplanation } from "../policy-tools/explain.js";
import { formatWarning, lintPolicySet } from "../policy-tools/lint.js";
import { type RequestDescription, requestDescriptionSchema } from "../policy-tools/request-description.js";
import {
  formatTestRun,
  policiesLine,
  runPolicyTests,
  testRunJson,
  testRunPassed,
} from "../policy-tools/run-policy-tests.js";
import { lintWorkloads } from "../policy-tools/workload-lint.js";
import { firstIssue } from "../util/format-issues.js";
import { DEFAULT_YAML_LIMITS, formatYamlProblem, parseYamlValue, type YamlLimits } from "../util/safe-yaml.js";
import { loadWorkloadInventory, type WorkloadInventory } from "../workloads/workload-inventory.js";
import { jwtClaimsOf } from "./check-command.js";
import { keyValuePairs } from "./key-value.js";

export interface CommonPolicyFlags {
  policyDir?: string[];
  /** Unset: the configuration's policies.rootNamespace (istio-system by default). */
  rootNamespace?: string;
  workloads?: string;
  trustDomain?: string[];
  /** A trustgate configuration file: its mesh trust domain, aliases, jwt and remoteIp settings are used. */
  config?: string;
  json?: boolean;
}

/** A failure the command reports in one line and exits 2 for (unreadable input, unusable flag values). */
class CommandFailure extends Error {}

interface MeshSettings {
  readonly compile: CompileOptions;
  readonly request: RequestSettings;
  /** The configuration's YAML limits, for every file these commands read. */
  readonly limits: YamlLimits;
  /** --root-namespace, else the configuration's `policies.rootNamespace` (TRUSTGATE_ROOT_NAMESPACE included). */
  readonly rootNamespace: string;
  /** The configuration's `policies.dir` (TRUSTGATE_POLICY_DIR included) and `policies.extraDirs`. */
  readonly policyDirs: string[];
}

/**
 * The settings `serve` would use with the same configuration: --config, else TRUSTGATE_CONFIG, and the TRUSTGATE_*
 * environment, so that `policy lint` and `explain` judge the policies `serve` loads the way `serve` does.
 */
async function meshSettings(flags: CommonPolicyFlags): Promise<MeshSettings> {
  const file = flags.config ?? (process.env.TRUSTGATE_CONFIG || undefined);
  const loaded = await loadConfig(file, process.env, {});
  if (!loaded.ok) {
    const origin =
      flags.config !== undefined ? `--config ${file}` : file !== undefined ? `TRUSTGATE_CONFIG ${file}` : "";
    throw new CommandFailure(`${origin === "" ? "" : `${origin}: `}invalid configuration: ${loaded.error}`);
  }
  const { config } = loaded;
  return {
    compile: compileOptionsOf(config),
    request: requestSettingsOf(config),
    limits: config.yaml,
    rootNamespace: flags.rootNamespace ?? config.policies.rootNamespace,
    policyDirs: [config.policies.dir, ...config.policies.extraDirs],
  };
}

async function inventory(flags: CommonPolicyFlags, limits: YamlLimits): Promise<WorkloadInventory> {
  if (flags.workloads !== undefined)
    await requirePaths([flags.workloads], "a workload inventory file with --workloads");
  const loaded = await loadWorkloadInventory(flags.workloads ?? "", flags.trustDomain?.[0] ?? "cluster.local", limits);
  if (!loaded.ok) throw new CommandFailure(`--workloads ${flags.workloads}: ${loaded.error}`);
  return loaded.inventory;
}

/** The policies of `policyDirs` (which must exist: `what` names them in the error), with the mesh's settings. */
async function loadPolicies(policyDirs: readonly string[], mesh: MeshSettings, what: string) {
  await requirePaths(policyDirs, what);
  const loaded = await loadPolicySet(policyDirs, {
    rootNamespace: mesh.rootNamespace,
    compile: mesh.compile,
    limits: mesh.limits,
  });
  return loaded;
}

/** Every path must exist: a typo is named with what a relative path was resolved against. */
async function requirePaths(paths: readonly string[], what: string): Promise<void> {
  for (const path of paths) {
    try {
      await stat(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const where = resolve(path) === path ? "" : ` (relative to the current directory, ${process.cwd()})`;
      const why = e.code === "ENOENT" ? "no such file or directory" : e.message;
      throw new CommandFailure(`${path}: ${why}${where} — give ${what}`);
    }
  }
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}

/**
 * The policy set tests run against: --policy-dir when given; else the default policy directory when the tests lie
 * inside it (a test of one file still sees the mesh-wide policies); else the tests' own directories.
 */
async function policyDirsForTests(
  tests: readonly string[],
  flags: CommonPolicyFlags,
  mesh: MeshSettings,
): Promise<string[]> {
  if (flags.policyDir !== undefined) return flags.policyDir;
  const defaults = mesh.policyDirs;
  if (tests.length === 0) return defaults;
  const roots: string[] = [];
  for (const test of tests) {
    const absolute = resolve(test);
    const home = defaults.find((d) => isInside(absolute, resolve(d)));
    const root = home ?? ((await stat(test)).isDirectory() ? test : dirname(test));
    if (!roots.some((r) => isInside(resolve(root), resolve(r)))) roots.push(root);
  }
  // A root inside another one is loaded by it already.
  return roots.filter((r) => !roots.some((o) => o !== r && isInside(resolve(r), resolve(o))));
}

function colour(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

function fail(command: string, err: unknown): number {
  if (!(err instanceof CommandFailure)) throw err;
  console.error(`trustgate ${command}: ${err.message}`);
  return 2;
}

export async function policyTest(tests: string[], flags: CommonPolicyFlags): Promise<number> {
  try {
    await requirePaths(tests, "policy test files or directories, or none to run the tests of the policy directory");
    const mesh = await meshSettings(flags);
    const policyDirs = await policyDirsForTests(tests, flags, mesh);
    await requirePaths(policyDirs, "the policy directory with --policy-dir (or TRUSTGATE_POLICY_DIR)");
    const workloads = await inventory(flags, mesh.limits);
    const run = await runPolicyTests(tests.length > 0 ? tests : policyDirs, {
      rootNamespace: mesh.rootNamespace,
      limits: mesh.limits,
      compile: mesh.compile,
      request: mesh.request,
      trustDomains: flags.trustDomain ?? [],
      labelsOf: workloads.size > 0 ? (id) => workloads.labelsOf(id) : undefined,
      policyPaths: policyDirs,
    });
    if (flags.json) console.log(JSON.stringify(testRunJson(run), null, 2));
    else console.log(formatTestRun(run, colour()));
    if (run.loadErrors.length === 0 && run.policies.count === 0)
      console.error(`trustgate policy test: ${policiesLine(run)}`);
    if (run.results.length === 0 && run.loadErrors.length === 0 && run.fileErrors.length === 0) {
      console.error(
        `trustgate policy test: no policy test files (*.test.yaml) under ${(tests.length > 0 ? tests : policyDirs).join(", ")}`,
      );
    }
    return testRunPassed(run) ? 0 : 1;
  } catch (err) {
    return fail("policy test", err);
  }
}

export async function policyLint(paths: string[], flags: CommonPolicyFlags): Promise<number> {
  try {
    const dirs = [...paths, ...(flags.policyDir ?? [])];
    const mesh = await meshSettings(flags);
    const policyDirs = dirs.length > 0 ? dirs : mesh.policyDirs;
    const loaded = await loadPolicies(policyDirs, mesh, "the policy files or directories to lint (or --policy-dir)");
    if (!loaded.ok) {
      const errors = loaded.errors.map(formatLoadError);
      if (flags.json) console.log(JSON.stringify({ errors: loaded.errors, warnings: [] }, null, 2));
      else {
        for (const e of errors) console.log(`${e.replace(/^([^:]+:\d+): /, "$1: error: ")}`);
        console.log(`\n${errors.length} error(s)`);
      }
      return 1;
    }
    const workloads = await inventory(flags, mesh.limits);
    const warnings = lintPolicySet(loaded.set, {
      workloads: workloads.workloads,
      trustDomains: [
        ...new Set([...(flags.trustDomain ?? []), ...workloads.workloads.map((w) => new URL(w.spiffeId).host)]),
      ],
      request: mesh.request,
    });
    if (flags.workloads) warnings.push(...lintWorkloads(workloads.workloads, flags.workloads));
    if (flags.json) console.log(JSON.stringify({ errors: [], warnings }, null, 2));
    else {
      for (const w of warnings) console.log(formatWarning(w));
      console.log(
        `${warnings.length === 0 ? "" : "\n"}${loaded.set.policies.length} policies in ${loaded.files.length} files: 0 errors, ${warnings.length} warning(s)`,
      );
    }
    if (loaded.set.policies.length === 0) {
      // As `policy test` does: a CI step pointed at a mistyped or empty directory must not pass.
      console.error(`trustgate policy lint: no policies found in ${policyDirs.join(", ")} (check the directory)`);
      return 1;
    }
    return 0;
  } catch (err) {
    return fail("policy lint", err);
  }
}

export interface ExplainFlags extends CommonPolicyFlags {
  request?: string;
  server?: string;
  token?: string;
  tokenFile?: string;
  principal?: string;
  fingerprint?: string;
  subject?: string;
  risk?: string;
  alert?: string[];
  method: string;
  path: string;
  host?: string;
  header?: string[];
  destinationPrincipal?: string;
  namespace?: string;
  label?: string[];
  port?: number;
  tcp?: boolean;
  sni?: string;
  jwtClaims?: string;
}

/**
 * A request file may hold a request description, or a whole policy test case (`name`, `request`, `expect`): then
 * its request is explained, so a failing case can be explained as it is written.
 */
function requestOf(raw: unknown, file: string): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const value = raw as Record<string, unknown>;
  if (Array.isArray(value.cases)) {
    const names = value.cases.map((c) => JSON.stringify((c as { name?: unknown })?.name ?? "?")).join(", ");
    throw new CommandFailure(
      `--request ${file}: this is a policy test file with ${value.cases.length} case(s) (${names}); give one case, or its request`,
    );
  }
  if ("request" in value && ("expect" in value || "name" in value)) return value.request;
  return raw;
}

async function description(flags: ExplainFlags): Promise<RequestDescription> {
  let raw: unknown;
  if (flags.request) {
    let text: string;
    try {
      text = flags.request === "-" ? await readStdin() : await readFile(flags.request, "utf8");
    } catch (err) {
      throw new CommandFailure(`--request ${flags.request}: cannot read it: ${(err as Error).message}`);
    }
    // Within the default YAML limits (a request description is small): an alias bomb is a one-line error.
    const yaml = parseYamlValue(text, DEFAULT_YAML_LIMITS);
    if (!yaml.ok) {
      throw new CommandFailure(
        `--request ${formatYamlProblem(flags.request === "-" ? "<stdin>" : flags.request, yaml.problem)}`,
      );
    }
    raw = requestOf(yaml.value, flags.request);
  } else {
    raw = {
      source: {
        principal: flags.principal,
        fingerprint: flags.fingerprint,
        subject: flags.subject,
        risk: flags.risk,
        alerts: flags.alert,
      },
      destination: {
        principal: flags.destinationPrincipal,
        namespace: flags.namespace,
        labels: flags.label ? keyValuePairs(flags.label, "--label") : undefined,
        port: flags.port,
      },
      tcp: flags.tcp,
      method: flags.method,
      path: flags.path,
      host: flags.host,
      headers: flags.header ? keyValuePairs(flags.header, "--header") : undefined,
      sni: flags.sni,
      jwt: jwtClaimsOf(flags.jwtClaims),
    };
  }
  const parsed = requestDescriptionSchema.safeParse(raw);
  if (!parsed.success) {
    if (!flags.request) throw new CommandFailure(flagIssue(parsed.error, flags));
    const origin = `--request ${flags.request}`;
    throw new CommandFailure(
      `${origin}: invalid request description: ${firstIssue(parsed.error)} (the format of a policy test case's request)`,
    );
  }
  return parsed.data;
}

/** explain's flags by the description field each one fills. */
const FLAG_OF: Readonly<Record<string, readonly [string, keyof ExplainFlags]>> = {
  "source.principal": ["--principal", "principal"],
  "source.fingerprint": ["--fingerprint", "fingerprint"],
  "source.subject": ["--subject", "subject"],
  "source.risk": ["--risk", "risk"],
  "source.alerts": ["--alert", "alert"],
  "destination.principal": ["--destination-principal", "destinationPrincipal"],
  "destination.namespace": ["--namespace", "namespace"],
  "destination.labels": ["--label", "label"],
  "destination.port": ["--port", "port"],
  method: ["--method", "method"],
  path: ["--path", "path"],
  host: ["--host", "host"],
  headers: ["--header", "header"],
  sni: ["--sni", "sni"],
  jwt: ["--jwt-claims", "jwtClaims"],
};

/** A description built from flags that does not hold: named by the flag and the value typed. */
function flagIssue(error: z.ZodError, flags: ExplainFlags): string {
  const issue = error.issues[0]!;
  const [first, second, index] = issue.path;
  const entry = FLAG_OF[`${String(first)}.${String(second)}`] ?? FLAG_OF[String(first)];
  if (entry === undefined) return `invalid request: ${firstIssue(error)}`;
  const [flag, key] = entry;
  const given = flags[key];
  const value = Array.isArray(given) && typeof index === "number" ? given[index] : given;
  return `${flag}${value === undefined ? "" : ` ${JSON.stringify(value)}`}: ${issue.message}`;
}

/** Reads standard input, stopping just past the size limit (the parser then refuses it by size). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    if (bytes > DEFAULT_YAML_LIMITS.maxFileBytes) break;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The admin token for `--server`: --token, else --token-file, else TRUSTGATE_ADMIN_TOKEN; "" when none. */
async function adminToken(flags: ExplainFlags): Promise<string> {
  if (flags.token !== undefined) return flags.token.trim();
  if (flags.tokenFile !== undefined) {
    try {
      return (await readFile(flags.tokenFile, "utf8")).trim();
    } catch (err) {
      throw new CommandFailure(`--token-file ${flags.tokenFile}: cannot read it: ${(err as Error).message}`);
    }
  }
  return (process.env.TRUSTGATE_ADMIN_TOKEN ?? "").trim();
}

function serverUrl(server: string): URL {
  let url: URL;
  try {
    url = new URL("/v1/explain", server);
  } catch {
    throw new CommandFailure(
      `--server ${server}: not a URL — give trustgate's admin address, e.g. --server http://127.0.0.1:9192`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CommandFailure(
      `--server ${server}: expected an http:// or https:// URL, e.g. --server http://127.0.0.1:9192`,
    );
  }
  return url;
}

async function explainOnServer(flags: ExplainFlags & { server: string }, request: RequestDescription): Promise<number> {
  const url = serverUrl(flags.server);
  const token = await adminToken(flags);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: flags.json ? "application/json" : "text/plain",
  };
  if (token !== "") headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers, body: JSON.stringify(request) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      cause?.code === "ECONNREFUSED"
        ? "connection refused — is trustgate running there?"
        : (cause?.message ?? (err as Error).message);
    throw new CommandFailure(`--server ${flags.server}: cannot reach ${url}: ${why}`);
  }
  const text = await response.text();
  if (!response.ok) {
    let detail = text.trim();
    try {
      detail = (JSON.parse(text) as { error?: string }).error ?? detail;
    } catch {
      // not JSON: keep the text
    }
    const hint =
      response.status === 401
        ? token === ""
          ? " — POST /v1/explain needs the admin token: give --token-file <file> or set TRUSTGATE_ADMIN_TOKEN"
          : " — the admin token was refused: check --token, --token-file or TRUSTGATE_ADMIN_TOKEN"
        : "";
    throw new CommandFailure(`${url} answered ${response.status}: ${detail}${hint}`);
  }
  console.log(text);
  return 0;
}

export async function explainCommand(flags: ExplainFlags): Promise<number> {
  try {
    const request = await description(flags);
    if (flags.server !== undefined) return await explainOnServer({ ...flags, server: flags.server }, request);
    const mesh = await meshSettings(flags);
    const policyDirs = flags.policyDir ?? mesh.policyDirs;
    const loaded = await loadPolicies(
      policyDirs,
      mesh,
      "the policy directory with --policy-dir (or TRUSTGATE_POLICY_DIR)",
    );
    if (!loaded.ok) {
      console.error(
        `trustgate explain: policies did not load from ${policyDirs.join(", ")}:\n${loaded.errors.map(formatLoadError).join("\n")}`,
      );
      return 2;
    }
    if (loaded.set.policies.length === 0) {
      console.error(
        `trustgate explain: NO POLICIES loaded from ${policyDirs.map((d) => relative(process.cwd(), d) || d).join(", ")}: the request is decided as if no policy existed`,
      );
    }
    const workloads = await inventory(flags, mesh.limits);
    const result = explain(request, loaded.set, {
      trustDomains: flags.trustDomain ?? [],
      labelsOf: workloads.size > 0 ? (id) => workloads.labelsOf(id) : undefined,
      request: mesh.request,
    });
    console.log(flags.json ? JSON.stringify(explanationJson(result), null, 2) : formatExplanation(result));
    return 0;
  } catch (err) {
    return fail("explain", err);
  }
}

export interface ConvertFlags {
  to: string;
}

/** `trustgate policy convert`: AuthorizationPolicy ⇄ TrustgatePolicy, YAML on stdout. */
export async function policyConvert(paths: string[], flags: ConvertFlags): Promise<number> {
  if (flags.to !== "trustgate" && flags.to !== "istio") {
    console.error(`trustgate policy convert: --to must be trustgate or istio, got "${flags.to}"`);
    return 2;
  }
  const inputs: Array<{ name: string; text: string }> = [];
  try {
    if (paths.length === 0 || (paths.length === 1 && paths[0] === "-")) {
      inputs.push({ name: "<stdin>", text: await readStdin() });
    } else {
      for (const file of await listYamlFiles(paths)) inputs.push({ name: file, text: await readFile(file, "utf8") });
    }
  } catch (err) {
    console.error(`trustgate policy convert: ${(err as Error).message}`);
    return 2;
  }
  const out: string[] = [];
  const errors: string[] = [];
  let policies = 0;
  for (const input of inputs) {
    const result = convertPolicyText(input.text, input.name, flags.to as ConvertTarget);
    if (!result.ok) {
      errors.push(...result.errors);
      continue;
    }
    for (const w of result.warnings) console.error(`warning: ${w}`);
    if (result.policies > 0) out.push(result.yaml);
    policies += result.policies;
  }
  if (errors.length > 0) {
    for (const e of errors) console.error(e);
    console.error(`\n${errors.length} error(s); nothing converted`);
    return 1;
  }
  process.stdout.write(out.join("---\n"));
  console.error(
    `${policies} ${policies === 1 ? "policy" : "policies"} converted to ${flags.to === "trustgate" ? "TrustgatePolicy" : "AuthorizationPolicy"}`,
  );
  return 0;
}
