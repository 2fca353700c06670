/**
 * Hot reload: notices when the policy files change and reloads once they have stopped changing.
 *
 * It compares snapshots of the policy directories (policy-snapshot.ts) rather than trusting file events alone:
 * events only say "look again" (each directory and the parent of each configured path is watched, and the watches
 * follow directories that are renamed or swapped), and the directories are also looked at every `pollMs`, so a lost
 * event, a renamed directory or a swapped symlink is still seen. A change is acted on only after two snapshots
 * `stabilityMs` apart agree, so a file written in several steps is never loaded half-written. When the directories
 * cannot be read, the watcher says so (status, metric, log) and keeps looking; the last good policies stay active.
 */
import { type FSWatcher, watch } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../observability/logger.js";
import { describeChange, type PolicySnapshot, takeSnapshot } from "./policy-snapshot.js";

export interface WatcherStatus {
  /** `watching`: changes are seen; `failed`: the policy directories cannot be read (see error). */
  readonly state: "watching" | "failed" | "stopped";
  readonly error: string | null;
  readonly since: string;
}

export interface PolicyWatcherOptions {
  readonly stabilityMs: number;
  readonly pollMs: number;
  /** Called whenever the watcher's state changes (metrics). */
  readonly onStatus?: (status: WatcherStatus) => void;
}

const EVENT_DEBOUNCE_MS = 50;

export class PolicyWatcher {
  private baseline: PolicySnapshot | null = null;
  private readonly watches = new Map<string, { watcher: FSWatcher; identity: string }>();
  private pollTimer: NodeJS.Timeout | null = null;
  private eventTimer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private checkAgain = false;
  private stopped = false;
  private current: WatcherStatus = { state: "watching", error: null, since: new Date().toISOString() };

  constructor(
    private readonly dirs: readonly string[],
    private readonly reload: (trigger: string) => Promise<unknown>,
    private readonly logger: Logger,
    private readonly options: PolicyWatcherOptions,
  ) {}

  get status(): WatcherStatus {
    return this.current;
  }

  /** Records what the directories look like now; call before the first load, so a change during it is not missed. */
  async prime(): Promise<void> {
    this.baseline = await takeSnapshot(this.dirs);
  }

  async start(): Promise<void> {
    if (this.baseline === null) await this.prime();
    this.syncWatches(this.baseline!);
    this.setStatus(this.baseline!.error);
    this.pollTimer = setInterval(() => this.requestCheck(), this.options.pollMs);
    this.pollTimer.unref();
    // Anything that changed between priming and now is picked up at once.
    this.requestCheck();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.eventTimer) clearTimeout(this.eventTimer);
    for (const w of this.watches.values()) w.watcher.close();
    this.watches.clear();
    await this.checking;
    this.current = { state: "stopped", error: null, since: new Date().toISOString() };
  }

  /** Runs one check now, or once more after the one in progress. Resolves when the checks are done (tests). */
  requestCheck(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    this.checking = (async () => {
      try {
        do {
          this.checkAgain = false;
          await this.check();
        } while (this.checkAgain && !this.stopped);
      } catch (err) {
        this.setStatus(`policy watcher failed: ${(err as Error).message}`);
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  private onEvent(): void {
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => {
      this.eventTimer = null;
      void this.requestCheck();
    }, EVENT_DEBOUNCE_MS);
  }

  private async check(): Promise<void> {
    let seen = await takeSnapshot(this.dirs);
    this.syncWatches(seen);
    if (seen.key === this.baseline?.key) {
      this.setStatus(seen.error);
      return;
    }
    // Something changed: wait until nothing changes for a whole stability window before reading it.
    for (;;) {
      await sleep(this.options.stabilityMs);
      if (this.stopped) return;
      const again = await takeSnapshot(this.dirs);
      this.syncWatches(again);
      if (again.key === seen.key) break;
      seen = again;
    }
    this.setStatus(seen.error);
    const trigger = describeChange(this.baseline, seen);
    this.baseline = seen;
    // Unreadable directories are reported, never loaded as "no policies": the last good set stays.
    if (seen.error === null) await this.reload(`file change (${trigger})`);
  }

  /** Watches exactly the directories of the latest snapshot; a directory replaced under the same path is re-watched. */
  private syncWatches(snapshot: PolicySnapshot): void {
    if (this.stopped) return;
    for (const [dir, w] of this.watches) {
      if (snapshot.directories.get(dir) !== w.identity) {
        w.watcher.close();
        this.watches.delete(dir);
      }
    }
    for (const [dir, identity] of snapshot.directories) {
      if (this.watches.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.onEvent());
        const entry = { watcher, identity };
        watcher.on("error", () => {
          // The directory went away or cannot be watched any more: the next snapshot re-creates the watch.
          watcher.close();
          if (this.watches.get(dir) === entry) this.watches.delete(dir);
          this.onEvent();
        });
        this.watches.set(dir, entry);
      } catch {
        // Missing or unreadable: polling still covers it, and the next snapshot tries again.
      }
    }
  }

  private setStatus(error: string | null): void {
    const state = error === null ? "watching" : "failed";
    if (state === this.current.state && error === this.current.error) return;
    this.current = { state, error, since: new Date().toISOString() };
    if (error === null) this.logger.info({ event: "policy watcher ok" }, "policy watcher: watching the policy files");
    else
      this.logger.error(
        { event: "policy watcher failed", error },
        `policy watcher cannot read the policy directories (${error}); the last good policy set stays active`,
      );
    this.options.onStatus?.(this.current);
  }
}
