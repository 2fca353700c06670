/**
 * Runs policy unit tests: every `*.test.yaml` under the given paths, each case decided against the whole policy set
 * (loaded from `policyPaths`, by default the same paths, as a deployment would load it), with the same code as live
 * Checks.
 */
import { relative } from "node:path";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { loadPolicySet } from "../policy/load-policy-set.js";
import { isPolicyTestFile, listYamlFiles } from "../policy/policy-files.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { YamlLimits } from "../util/safe-yaml.js";
import { type Explanation, explain, formatExplanation } from "./explain.js";
import { readTestFile, type TestCase } from "./test-file.js";

export interface CaseResult {
  readonly testCase: TestCase;
  readonly passed: boolean;
  /** What differed, one line per mismatch. */
  readonly failures: string[];
  readonly explanation: Explanation;
}

export interface TestRun {
  /** Where the policies came from, and how many loaded (0 when they did not load). */
  readonly policies: { readonly paths: readonly string[]; readonly count: number; readonly files: number };
  readonly loadErrors: string[];
  /** Every problem in the test files, one `file:line: …` line each. */
  readonly fileErrors: string[];
  /** How many test files could not be read. */
  readonly brokenFiles: number;
  readonly results: CaseResult[];
  readonly files: string[];
}

export interface RunOptions {
  readonly rootNamespace: string;
  /** Where the policies come from (default: the test paths themselves). */
  readonly policyPaths?: readonly string[];
  /** Mesh facts policy values depend on (trust domain and aliases). */
  readonly compile?: CompileOptions;
  /** What the proxy forwards (JWT metadata, trusted proxies); default: the server's defaults. */
  readonly request?: RequestSettings;
  readonly trustDomains?: readonly string[];
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  readonly nowMs?: number;
  /** Limits on policy and test files (default: DEFAULT_YAML_LIMITS). */
  readonly limits?: YamlLimits;
}

export function checkCase(testCase: TestCase, set: PolicySet, options: RunOptions): CaseResult {
  const explanation = explain(testCase.request, set, options);
  const d = explanation.outcome.decision;
  const e = testCase.expect;
  const failures: string[] = [];
  const got = d.allowed ? "allow" : "deny";
  if (e.decision !== got) failures.push(`expected ${e.decision}, got ${got} (${d.reason})`);
  if (e.outcome !== undefined && e.outcome !== d.outcome)
    failures.push(`expected outcome ${e.outcome}, got ${d.outcome}`);
  if (e.policy !== undefined && e.policy !== d.policy) failures.push(`expected policy ${e.policy}, got ${d.policy}`);
  if (e.rule !== undefined && e.rule !== d.rule) failures.push(`expected rule ${e.rule}, got ${d.rule}`);
  if (e.reasonContains !== undefined && !d.reason.includes(e.reasonContains)) {
    failures.push(
      `expected the reason to contain ${JSON.stringify(e.reasonContains)}, got ${JSON.stringify(d.reason)}`,
    );
  }
  return { testCase, passed: failures.length === 0, failures, explanation };
}

export async function runPolicyTests(paths: readonly string[], options: RunOptions): Promise<TestRun> {
  const policyPaths = options.policyPaths ?? paths;
  const loaded = await loadPolicySet(policyPaths, {
    rootNamespace: options.rootNamespace,
    compile: options.compile,
    limits: options.limits,
  });
  const testFiles = await listYamlFiles(paths, isPolicyTestFile);
  // Shown relative to the working directory when inside it, else as given.
  const files = testFiles.map((f) => {
    const rel = relative(process.cwd(), f);
    return rel === "" || rel.startsWith("..") ? f : rel;
  });
  if (!loaded.ok) {
    return {
      policies: { paths: policyPaths, count: 0, files: 0 },
      loadErrors: loaded.errors.map(formatLoadError),
      fileErrors: [],
      brokenFiles: 0,
      results: [],
      files,
    };
  }
  const fileErrors: string[] = [];
  let brokenFiles = 0;
  const results: CaseResult[] = [];
  for (let i = 0; i < testFiles.length; i++) {
    const read = await readTestFile(testFiles[i]!, files[i], options.limits);
    if (!read.ok) {
      fileErrors.push(...read.errors);
      brokenFiles++;
      continue;
    }
    for (const c of read.cases) results.push(checkCase(c, loaded.set, options));
  }
  const policies = { paths: policyPaths, count: loaded.set.policies.length, files: loaded.files.length };
  return { policies, loadErrors: [], fileErrors, brokenFiles, results, files };
}

/** Which policies the run decided against; loud when there were none. */
export function policiesLine(run: TestRun): string {
  const where = run.policies.paths.join(", ");
  if (run.policies.count === 0) {
    return `NO POLICIES loaded from ${where}: every case is decided as if no policy existed (everything allowed) — give the policy directory with --policy-dir`;
  }
  return `policies: ${run.policies.count} loaded from ${where} (${run.policies.files} files)`;
}

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((l) => `${by}${l}`)
    .join("\n");
}

/** Test-runner style report. Colours only when asked (a terminal). */
export function formatTestRun(run: TestRun, colour: boolean): string {
  const green = (s: string) => (colour ? `\x1b[32m${s}\x1b[0m` : s);
  const red = (s: string) => (colour ? `\x1b[31m${s}\x1b[0m` : s);
  const lines: string[] = [];
  if (run.loadErrors.length > 0) {
    lines.push(
      red(`policies did not load from ${run.policies.paths.join(", ")}:`),
      ...run.loadErrors.map((e) => `  ${e}`),
    );
    return lines.join("\n");
  }
  lines.push(run.policies.count === 0 ? red(`⚠ ${policiesLine(run)}`) : policiesLine(run));
  let current = "";
  for (const r of run.results) {
    if (r.testCase.file !== current) {
      current = r.testCase.file;
      lines.push(current);
    }
    lines.push(`  ${r.passed ? green("✓") : red("✗")} ${r.testCase.name}`);
    if (!r.passed) {
      lines.push(`      at ${r.testCase.file}:${r.testCase.line}`);
      for (const f of r.failures) lines.push(`      ${red(f)}`);
      lines.push(indent(formatExplanation(r.explanation), "      │ "));
    }
  }
  for (const e of run.fileErrors) lines.push(red(`✗ ${e}`));
  const passed = run.results.filter((r) => r.passed).length;
  const failed = run.results.length - passed + run.brokenFiles;
  lines.push("");
  lines.push(
    `${failed === 0 ? green(`${passed} passed`) : `${passed} passed, ${red(`${failed} failed`)}`} (${run.results.length} cases in ${run.files.length} files)`,
  );
  return lines.join("\n");
}

export function testRunJson(run: TestRun): Record<string, unknown> {
  const passed = run.results.filter((r) => r.passed).length;
  return {
    passed,
    failed: run.results.length - passed + run.brokenFiles,
    policies: run.policies,
    loadErrors: run.loadErrors,
    fileErrors: run.fileErrors,
    cases: run.results.map((r) => ({
      file: r.testCase.file,
      line: r.testCase.line,
      name: r.testCase.name,
      passed: r.passed,
      failures: r.failures,
      decision: {
        decision: r.explanation.outcome.decision.allowed ? "allow" : "deny",
        outcome: r.explanation.outcome.decision.outcome,
        policy: r.explanation.outcome.decision.policy,
        rule: r.explanation.outcome.decision.rule,
        reason: r.explanation.outcome.decision.reason,
      },
    })),
  };
}

export function testRunPassed(run: TestRun): boolean {
  return (
    run.loadErrors.length === 0 &&
    run.fileErrors.length === 0 &&
    run.results.length > 0 &&
    run.results.every((r) => r.passed)
  );
}
