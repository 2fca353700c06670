/**
 * `trustgate policy test`, `trustgate policy lint` and `trustgate explain`: policy tooling that runs the same code
 * as live decisions, offline against policy files or (explain) against a running server.
 */
import { readFile } from "node:fs/promises";
import { compileOptionsOf, requestSettingsOf } from "../app/settings.js";
import { loadConfig } from "../config/load-config.js";
import { DEFAULT_REQUEST_SETTINGS, type RequestSettings } from "../extauthz/from-check-request.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { loadPolicySet } from "../policy/load-policy-set.js";
import { explain, explanationJson, formatExplanation } from "../policy-tools/explain.js";
import { formatWarning, lintPolicySet } from "../policy-tools/lint.js";
import { type RequestDescription, requestDescriptionSchema } from "../policy-tools/request-description.js";
import { formatTestRun, runPolicyTests, testRunJson, testRunPassed } from "../policy-tools/run-policy-tests.js";
import { lintWorkloads } from "../policy-tools/workload-lint.js";
import { firstIssue } from "../util/format-issues.js";
import { DEFAULT_YAML_LIMITS, formatYamlProblem, parseYamlValue, type YamlLimits } from "../util/safe-yaml.js";
import { loadWorkloadInventory, type WorkloadInventory } from "../workloads/workload-inventory.js";
import { jwtClaimsOf } from "./check-command.js";
import { keyValuePairs } from "./key-value.js";

export interface CommonPolicyFlags {
  rootNamespace: string;
  workloads?: string;
  trustDomain: string[];
  /** A trustgate configuration file: its mesh trust domain, aliases, jwt and remoteIp settings are used. */
  config?: string;
  json?: boolean;
}

interface MeshSettings {
  readonly compile: CompileOptions;
  readonly request: RequestSettings;
  /** The configuration's YAML limits, for every file these commands read. */
  readonly limits: YamlLimits;
}

/** The settings `serve` would use with the same configuration file (defaults without one). */
async function meshSettings(flags: CommonPolicyFlags): Promise<MeshSettings> {
  if (flags.config === undefined)
    return { compile: {}, request: DEFAULT_REQUEST_SETTINGS, limits: DEFAULT_YAML_LIMITS };
  const loaded = await loadConfig(flags.config, {}, {});
  if (!loaded.ok) throw new Error(`invalid configuration ${flags.config}:\n${loaded.error}`);
  return {
    compile: compileOptionsOf(loaded.config),
    request: requestSettingsOf(loaded.config),
    limits: loaded.config.yaml,
  };
}

async function inventory(
  flags: CommonPolicyFlags,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): Promise<WorkloadInventory> {
  const loaded = await loadWorkloadInventory(flags.workloads ?? "", flags.trustDomain[0] ?? "cluster.local", limits);
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.inventory;
}

function colour(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

export async function policyTest(paths: string[], flags: CommonPolicyFlags): Promise<number> {
  const mesh = await meshSettings(flags);
  const workloads = await inventory(flags, mesh.limits);
  const run = await runPolicyTests(paths.length > 0 ? paths : ["policies"], {
    rootNamespace: flags.rootNamespace,
    limits: mesh.limits,
    compile: mesh.compile,
    request: mesh.request,
    trustDomains: flags.trustDomain,
    labelsOf: workloads.size > 0 ? (id) => workloads.labelsOf(id) : undefined,
  });
  if (flags.json) console.log(JSON.stringify(testRunJson(run), null, 2));
  else console.log(formatTestRun(run, colour()));
  if (run.results.length === 0 && run.loadErrors.length === 0 && run.fileErrors.length === 0) {
    console.error("no policy test files (*.test.yaml) found");
  }
  return testRunPassed(run) ? 0 : 1;
}

export async function policyLint(paths: string[], flags: CommonPolicyFlags): Promise<number> {
  const mesh = await meshSettings(flags);
  const loaded = await loadPolicySet(paths.length > 0 ? paths : ["policies"], {
    rootNamespace: flags.rootNamespace,
    compile: mesh.compile,
    limits: mesh.limits,
  });
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
    trustDomains: [...new Set([...flags.trustDomain, ...workloads.workloads.map((w) => new URL(w.spiffeId).host)])],
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
  return 0;
}

export interface ExplainFlags extends CommonPolicyFlags {
  request?: string;
  server?: string;
  policyDir: string[];
  principal?: string;
  fingerprint?: string;
  subject?: string;
  risk?: string;
  alert: string[];
  method: string;
  path: string;
  host?: string;
  header: string[];
  destinationPrincipal?: string;
  namespace?: string;
  label: string[];
  port?: number;
  tcp?: boolean;
  sni?: string;
  jwtClaims?: string;
}

async function description(flags: ExplainFlags): Promise<RequestDescription> {
  let raw: unknown;
  if (flags.request) {
    const text = flags.request === "-" ? await readStdin() : await readFile(flags.request, "utf8");
    const parsed = parseYamlValue(text, DEFAULT_YAML_LIMITS);
    if (!parsed.ok) throw new Error(formatYamlProblem(flags.request === "-" ? "stdin" : flags.request, parsed.problem));
    raw = parsed.value;
  } else {
    raw = {
      source: {
        principal: flags.principal,
        fingerprint: flags.fingerprint,
        subject: flags.subject,
        risk: flags.risk,
        alerts: flags.alert.length > 0 ? flags.alert : undefined,
      },
      destination: {
        principal: flags.destinationPrincipal,
        namespace: flags.namespace,
        labels: flags.label.length > 0 ? keyValuePairs(flags.label, "--label") : undefined,
        port: flags.port,
      },
      tcp: flags.tcp,
      method: flags.method,
      path: flags.path,
      host: flags.host,
      headers: flags.header.length > 0 ? keyValuePairs(flags.header, "--header") : undefined,
      sni: flags.sni,
      jwt: jwtClaimsOf(flags.jwtClaims),
    };
  }
  const parsed = requestDescriptionSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`invalid request description: ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
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

export async function explainCommand(flags: ExplainFlags): Promise<number> {
  let request: RequestDescription;
  try {
    request = await description(flags);
  } catch (err) {
    console.error(`trustgate explain: ${(err as Error).message}`);
    return 2;
  }
  if (flags.server) {
    const url = new URL("/v1/explain", flags.server);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: flags.json ? "application/json" : "text/plain" },
        body: JSON.stringify(request),
      });
    } catch (err) {
      console.error(`trustgate explain: cannot reach ${url}: ${(err as Error).message}`);
      return 2;
    }
    const text = await response.text();
    if (!response.ok) {
      console.error(`trustgate explain: ${url} answered ${response.status}: ${text}`);
      return 2;
    }
    console.log(text);
    return 0;
  }
  const mesh = await meshSettings(flags);
  const loaded = await loadPolicySet(flags.policyDir.length > 0 ? flags.policyDir : ["policies"], {
    rootNamespace: flags.rootNamespace,
    compile: mesh.compile,
    limits: mesh.limits,
  });
  if (!loaded.ok) {
    console.error(`trustgate explain: policies did not load:\n${loaded.errors.map(formatLoadError).join("\n")}`);
    return 2;
  }
  const workloads = await inventory(flags, mesh.limits);
  const result = explain(request, loaded.set, {
    trustDomains: flags.trustDomain,
    labelsOf: workloads.size > 0 ? (id) => workloads.labelsOf(id) : undefined,
    request: mesh.request,
  });
  console.log(flags.json ? JSON.stringify(explanationJson(result), null, 2) : formatExplanation(result));
  return 0;
}
