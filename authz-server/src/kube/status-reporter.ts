/**
 * Writes `status` on TrustgatePolicy objects: only on the replica that holds the Lease, only for objects whose
 * status differs from what it should say, with a JSON merge patch of the status subresource that names the
 * object's uid (so a status computed for a deleted object never lands on a re-created one of the same name).
 * Passes are requested after every change and debounced; a pass that could not write everything retries with
 * backoff.
 */
import type { Logger } from "../observability/logger.js";
import { TRUSTGATE_GROUP, TRUSTGATE_PLURAL, TRUSTGATE_VERSION } from "../policy/policy-kinds.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { LintWarning } from "../policy-tools/lint.js";
import { type KubeApi, KubeApiError } from "./kube-api.js";
import type { KubernetesPolicySource, ObjectVerdict } from "./kubernetes-policy-source.js";
import type { TrustgatePolicyObject } from "./policy-object.js";
import { desiredStatus, statusDiffers } from "./policy-status.js";

export interface StatusReporterOptions {
  readonly api: KubeApi;
  readonly source: KubernetesPolicySource;
  readonly currentSet: () => PolicySet | null;
  readonly loadError: () => string | null;
  /**
   * Lint warnings of a set (asked once per set version). May take a while (it lints every policy) and gives the event
   * loop turns meanwhile.
   */
  readonly lint: (set: PolicySet) => Promise<LintWarning[]>;
  readonly isLeader: () => boolean;
  /** True while a change is still on its way into the set (a status computed now would be a passing state). */
  readonly busy?: () => boolean;
  readonly logger: Logger;
  readonly debounceMs?: number;
  readonly concurrency?: number;
  readonly now?: () => Date;
}

const MAX_RETRY_MS = 30_000;

export function statusPath(namespace: string, name: string): string {
  return `/apis/${TRUSTGATE_GROUP}/${TRUSTGATE_VERSION}/namespaces/${encodeURIComponent(namespace)}/${TRUSTGATE_PLURAL}/${encodeURIComponent(name)}/status`;
}

export class StatusReporter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private retryMs = 1_000;
  private lintCache: { version: string; byOrigin: Map<string, LintWarning[]> } | null = null;
  readonly stats = { passes: 0, writes: 0, failures: 0 };

  constructor(private readonly options: StatusReporterOptions) {}

  /** Asks for a pass soon (many requests in a burst make one pass). */
  request(delayMs = this.options.debounceMs ?? 100): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Resolves when no pass is running or waiting (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.timer) {
      await (this.running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  private async warningsOf(set: PolicySet): Promise<(origin: string) => LintWarning[]> {
    if (this.lintCache?.version !== set.version) {
      const byOrigin = new Map<string, LintWarning[]>();
      for (const w of await this.options.lint(set)) {
        const list = byOrigin.get(w.file) ?? [];
        list.push(w);
        byOrigin.set(w.file, list);
      }
      this.lintCache = { version: set.version, byOrigin };
    }
    const byOrigin = this.lintCache.byOrigin;
    return (origin) => byOrigin.get(origin) ?? [];
  }

  private async pass(): Promise<void> {
    const { source, isLeader } = this.options;
    const set = this.options.currentSet();
    // Nothing to say before a set is in force, and a burst still being applied would only give passing states.
    if (!isLeader() || set === null || this.stopped) return;
    if (source.settling || this.options.busy?.()) {
      this.again = true;
      return;
    }
    this.stats.passes += 1;
    const now = (this.options.now ?? (() => new Date()))();
    const warnings = await this.warningsOf(set);
    // Linting gave other work turns: a set replaced meanwhile gets its own pass, this one would write stale states.
    if (this.options.currentSet() !== set || source.settling || this.options.busy?.() || !isLeader() || this.stopped) {
      this.again = true;
      return;
    }
    const pending = source
      .verdicts(set, this.options.loadError(), warnings)
      .map((v) => ({ v, desired: desiredStatus(v.verdict, v.object.status, now) }))
      .filter(({ v, desired }) => statusDiffers(v.object.status, desired));
    let failed = 0;
    const queue = [...pending];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (!isLeader() || this.stopped) return;
        if (!(await this.write(next.v, next.desired))) failed += 1;
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 4 }, worker));
    if (failed > 0) {
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      this.request(this.retryMs);
    } else this.retryMs = 1_000;
  }

  private async write(v: ObjectVerdict, desired: ReturnType<typeof desiredStatus>): Promise<boolean> {
    try {
      const written = await this.options.api.request<TrustgatePolicyObject>("PATCH", statusPath(v.namespace, v.name), {
        body: { metadata: { uid: v.uid }, status: desired },
        contentType: "application/merge-patch+json",
      });
      this.stats.writes += 1;
      this.options.source.observeWritten(written);
      return true;
    } catch (err) {
      // Gone, or replaced by a new object of the same name: the watch brings the news, nothing to retry.
      if (err instanceof KubeApiError && (err.status === 404 || err.status === 409)) return true;
      this.stats.failures += 1;
      this.options.logger.warn(
        { event: "policy status write failed", policy: `${v.namespace}/${v.name}`, error: (err as Error).message },
        `could not write the status of TrustgatePolicy ${v.namespace}/${v.name}; retrying`,
      );
      return false;
    }
  }
}
