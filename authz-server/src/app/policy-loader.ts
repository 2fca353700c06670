/**
 * Loads the policy directories into the PolicyHolder: once at start-up (failure stops the server), and again on
 * reload (failure keeps the last good set in force). Reading, parsing, checking and linting run in a worker thread;
 * this thread only compiles the checked documents, in short slices, and swaps the new set in with one reference
 * assignment. A reload that takes DENY protection away is logged at warn and counted.
 */

import { setImmediate as nextTurn } from "node:timers/promises";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError, type PolicyLoadError } from "../policy/compiled.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import { PolicySet } from "../policy/policy-set.js";
import { type PolicySource, type SourcePolicies, withSourcePolicies } from "../policy/policy-source.js";
import { weakenedDenies } from "../policy/weakened-denies.js";
import { formatWarning, type LintContext, type LintWarning } from "../policy-tools/lint.js";
import type { YamlLimits } from "../util/safe-yaml.js";
import type { PolicyMetrics } from "./policy-metrics.js";
import { PolicyWorkerClient, type PolicyWorkerOptions } from "./policy-worker-client.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";
import { COMPILE_SLICE_MS, compileInSlices } from "./sliced-compile.js";

export class PolicyLoadFailed extends Error {
  constructor(readonly messages: string[]) {
    super(`policies did not load:\n${messages.map((m) => `  ${m}`).join("\n")}`);
  }
}

export interface PolicyLoaderOptions {
  readonly dirs: readonly string[];
  readonly rootNamespace: string;
  readonly limits: YamlLimits;
  /** Mesh facts policy values depend on (trust domain and aliases). */
  readonly compile?: CompileOptions;
  /** What lint checks the policies against (warnings are logged when a set becomes active). */
  readonly lint: LintContext;
  readonly holder: PolicyHolder;
  readonly metrics: Metrics;
  readonly policyMetrics: PolicyMetrics;
  readonly logger: Logger;
  readonly worker?: PolicyWorkerOptions;
  /** Policies from elsewhere (the Kubernetes API), joined with the files' on every load. */
  readonly sources?: readonly PolicySource[];
  /** Longest stretch of compiling on the Check thread before it lets Checks run. */
  readonly sliceMs?: number;
  /**
   * Keep what the active set was built from (`activeInputs`): worker processes build their sets from it. Without
   * workers nothing reads it, and it is not small: the checked documents of 5,000 policies hold about 9 MB of heap.
   */
  readonly keepInputs?: boolean;
}

/**
 * What a policy set was built from: the checked documents of the policy files with their digest, and what each other
 * source contributed. Worker processes build the same set from it (policy-inputs.ts).
 */
export interface PolicyInputs {
  readonly documents: readonly TransferredDocument[];
  readonly digest: string;
  readonly sources: ReadonlyArray<{ readonly name: string } & SourcePolicies>;
}

type Built =
  | {
      ok: true;
      set: PolicySet;
      inputs: PolicyInputs;
      warnings: readonly LintWarning[];
      moreWarnings: Readonly<Record<string, number>>;
    }
  | { ok: false; errors: PolicyLoadError[] };

export class PolicyLoader {
  lastError: string | null = null;
  /** What the active set was built from (worker processes build the same); empty unless `keepInputs`. */
  activeInputs: PolicyInputs = { documents: [], digest: "", sources: [] };
  private loading: Promise<PolicySet | null> | null = null;
  private again = false;
  private readonly worker: PolicyWorkerClient;

  constructor(private readonly options: PolicyLoaderOptions) {
    this.worker = new PolicyWorkerClient(options.worker);
  }

  /** First load: throws PolicyLoadFailed with every error. */
  async loadInitial(): Promise<PolicySet> {
    const built = await this.build(false);
    if (!built.ok) throw new PolicyLoadFailed(built.errors.map(formatLoadError));
    this.install(built, "initial", "initial");
    return built.set;
  }

  /**
   * Reloads; concurrent requests coalesce into one follow-up load so a burst of file events causes at most two
   * loads. Resolves with the new set, or null when the new files did not load (the old set stays).
   */
  reload(trigger: string): Promise<PolicySet | null> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      let result: PolicySet | null = null;
      try {
        do {
          this.again = false;
          result = await this.loadOnce(trigger);
        } while (this.again);
      } finally {
        this.loading = null;
      }
      return result;
    })();
    return this.loading;
  }

  close(): Promise<void> {
    return this.worker.close();
  }

  /** `lowPriority`: Checks are being served, so the worker yields the CPU to them (every reload). */
  private async build(lowPriority: boolean): Promise<Built> {
    const { dirs, rootNamespace, limits, lint } = this.options;
    const compile = this.options.compile ?? {};
    const loaded = await this.worker.load({ paths: dirs, rootNamespace, limits, lint, compile, lowPriority });
    if (!loaded.ok) return loaded;
    const compiled = await compileInSlices(loaded.documents, this.options.sliceMs ?? COMPILE_SLICE_MS, compile);
    if (!compiled.ok) return compiled;
    const files = {
      ok: true as const,
      set: new PolicySet(compiled.policies, rootNamespace, loaded.digest),
      files: [...loaded.files],
    };
    // Each source's contribution is taken once, and the set built from exactly that.
    const contributions = (this.options.sources ?? []).map((s) => ({ name: s.name, ...s.policies() }));
    const fixed = contributions.map((c) => ({ name: c.name, ready: () => true, policies: () => c }));
    const joined = withSourcePolicies(files, fixed, rootNamespace);
    if (!joined.ok) return joined;
    return {
      ok: true,
      set: joined.set,
      inputs: { documents: loaded.documents, digest: loaded.digest, sources: contributions },
      warnings: loaded.warnings,
      moreWarnings: loaded.moreWarnings,
    };
  }

  private async loadOnce(trigger: string): Promise<PolicySet | null> {
    const { holder, metrics, logger } = this.options;
    let built: Built;
    try {
      built = await this.build(true);
    } catch (err) {
      built = {
        ok: false,
        errors: [
          { file: this.options.dirs.join(", "), line: 0, policy: "", rule: null, field: "", message: String(err) },
        ],
      };
    }
    if (!built.ok) {
      const messages = built.errors.map(formatLoadError);
      this.lastError = messages.join("\n");
      metrics.policyReloads.labels("error").inc();
      metrics.policyReloadErrors.inc();
      logger.error(
        {
          event: "policy reload failed",
          result: "error",
          trigger,
          errors: messages,
          active_version: holder.current?.version,
        },
        `policy reload (${trigger}) failed; keeping the last good policy set ${holder.current?.version}`,
      );
      return null;
    }
    if (built.set.version === holder.current?.version) {
      this.lastError = null;
      metrics.policyReloads.labels("unchanged").inc();
      logger.info(
        { event: "policy reload", result: "unchanged", trigger, version: built.set.version },
        `policy reload (${trigger}): unchanged, policy set ${built.set.version} stays active`,
      );
      return holder.current;
    }
    this.install(built, trigger, "ok");
    metrics.policyReloads.labels("ok").inc();
    return built.set;
  }

  private install(built: Built & { ok: true }, trigger: string, result: "initial" | "ok"): void {
    const { holder, metrics, policyMetrics, logger } = this.options;
    // Until every source has listed once, a set would be missing its policies: serve none (readiness stays off).
    const waiting = (this.options.sources ?? []).filter((s) => !s.ready()).map((s) => s.name);
    if (waiting.length > 0) {
      logger.info(
        { event: "policy set waiting", trigger, waiting_for: waiting },
        "policy set built; waiting for its sources",
      );
      return;
    }
    const set = built.set;
    const weakened = weakenedDenies(holder.current, set);
    const previous = holder.current?.version;
    if (this.options.keepInputs === true) this.activeInputs = built.inputs;
    holder.swap(set);
    this.lastError = null;
    metrics.setPolicySet(set.version, set.policies.length);
    logger.info(
      {
        event: "policy set active",
        result,
        trigger,
        version: set.version,
        policies: set.policies.length,
        dry_run_policies: set.policies.filter((p) => p.dryRun).map((p) => p.id),
      },
      `${result === "ok" ? `policy reload (${trigger}): ` : ""}policy set ${set.version} active (${set.policies.length} policies)`,
    );
    if (weakened.length > 0) {
      for (const w of weakened) policyMetrics.countWeakened(w.change);
      logger.warn(
        {
          event: "deny policies weakened",
          trigger,
          version: set.version,
          previous_version: previous,
          changes: weakened,
        },
        `policy set ${set.version} takes DENY protection away: ${weakened
          .map((w) => `${w.policy} ${w.change}`)
          .join(", ")} (if this was not intended, check for a half-written or truncated policy file)`,
      );
    }
    void logLintWarnings(built.warnings, built.moreWarnings, set.version, logger);
  }
}

/**
 * Logs a set's lint warnings a few at a time (a large set can have thousands: the worker sends the first
 * LINT_WARNINGS_SENT and counts the rest), then one line counting the rest by code.
 */
async function logLintWarnings(
  warnings: readonly LintWarning[],
  more: Readonly<Record<string, number>>,
  version: string,
  logger: Logger,
): Promise<void> {
  for (let i = 0; i < warnings.length; i++) {
    if (i > 0 && i % 10 === 0) await nextTurn();
    const w = warnings[i]!;
    logger.warn(
      { event: "policy lint", code: w.code, policy: w.policy, rule: w.rule, file: w.file, line: w.line },
      formatWarning(w),
    );
  }
  const rest = Object.values(more).reduce((a, b) => a + b, 0);
  if (rest > 0) {
    logger.warn(
      { event: "policy lint", version, more_warnings: { ...more } },
      `${rest} more lint warnings in policy set ${version} (trustgate policy lint lists them all)`,
    );
  }
}
