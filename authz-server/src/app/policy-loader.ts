/**
 * Loads the policy directory into the PolicyHolder: once at start-up (failure stops the server), and again on
 * reload (failure keeps the last good set in force). A reload builds the whole new set off to the side and swaps
 * it in with one reference assignment.
 */

import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { type LoadResult, loadPolicySet, type PolicyText } from "../policy/load-policy-set.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import type { PolicySet } from "../policy/policy-set.js";
import { type PolicySource, type SourcePolicies, withSourcePolicies } from "../policy/policy-source.js";

/**
 * What a policy set was built from: the policy files' texts and what each other source contributed. Worker
 * processes build the same set from it (policy-inputs.ts).
 */
export interface PolicyInputs {
  readonly files: readonly PolicyText[];
  readonly sources: ReadonlyArray<{ readonly name: string } & SourcePolicies>;
}

export class PolicyLoadFailed extends Error {
  constructor(readonly messages: string[]) {
    super(`policies did not load:\n${messages.map((m) => `  ${m}`).join("\n")}`);
  }
}

export class PolicyLoader {
  lastError: string | null = null;
  /** What the active set was built from (worker processes build the same). */
  activeInputs: PolicyInputs = { files: [], sources: [] };
  private loading: Promise<PolicySet | null> | null = null;
  private again = false;

  constructor(
    private readonly dirs: readonly string[],
    private readonly rootNamespace: string,
    private readonly holder: PolicyHolder,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Mesh facts policy values depend on (trust domain and aliases). */
    private readonly compile: CompileOptions = {},
    /** Policies from elsewhere (the Kubernetes API), joined with the files' on every load. */
    private readonly sources: readonly PolicySource[] = [],
  ) {}

  /** First load: throws PolicyLoadFailed with every error. */
  async loadInitial(): Promise<PolicySet> {
    const { result, inputs } = await this.load();
    if (!result.ok) throw new PolicyLoadFailed(result.errors.map(formatLoadError));
    this.install(result.set, inputs, "initial", "initial");
    return result.set;
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
      do {
        this.again = false;
        result = await this.loadOnce(trigger);
      } while (this.again);
      this.loading = null;
      return result;
    })();
    return this.loading;
  }

  private async load(): Promise<{ result: LoadResult; inputs: PolicyInputs }> {
    const files = await loadPolicySet(this.dirs, { rootNamespace: this.rootNamespace, compile: this.compile });
    // Each source's contribution is taken once, and the set built from exactly that.
    const contributions = this.sources.map((s) => ({ name: s.name, ...s.policies() }));
    const fixed = contributions.map((c) => ({ name: c.name, ready: () => true, policies: () => c }));
    return {
      result: withSourcePolicies(files, fixed, this.rootNamespace),
      inputs: { files: files.ok ? files.sources : [], sources: contributions },
    };
  }

  private async loadOnce(trigger: string): Promise<PolicySet | null> {
    const { result, inputs } = await this.load();
    if (!result.ok) {
      const messages = result.errors.map(formatLoadError);
      this.lastError = messages.join("\n");
      this.metrics.policyReloads.labels("error").inc();
      this.metrics.policyReloadErrors.inc();
      this.logger.error(
        {
          event: "policy reload failed",
          result: "error",
          trigger,
          errors: messages,
          active_version: this.holder.current?.version,
        },
        `policy reload (${trigger}) failed; keeping the last good policy set ${this.holder.current?.version}`,
      );
      return null;
    }
    if (result.set.version === this.holder.current?.version) {
      this.lastError = null;
      this.metrics.policyReloads.labels("unchanged").inc();
      this.logger.info(
        { event: "policy reload", result: "unchanged", trigger, version: result.set.version },
        `policy reload (${trigger}): unchanged, policy set ${result.set.version} stays active`,
      );
      return this.holder.current;
    }
    this.install(result.set, inputs, trigger, "ok");
    this.metrics.policyReloads.labels("ok").inc();
    return result.set;
  }

  private install(set: PolicySet, inputs: PolicyInputs, trigger: string, result: "initial" | "ok"): void {
    // Until every source has listed once, a set would be missing its policies: serve none (readiness stays off).
    const waiting = this.sources.filter((s) => !s.ready()).map((s) => s.name);
    if (waiting.length > 0) {
      this.logger.info(
        { event: "policy set waiting", trigger, waiting_for: waiting },
        "policy set built; waiting for its sources",
      );
      return;
    }
    this.activeInputs = inputs;
    this.holder.swap(set);
    this.lastError = null;
    this.metrics.setPolicySet(set.version, set.policies.length);
    this.logger.info(
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
  }
}
