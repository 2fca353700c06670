/**
 * Hot reload: watches the policy directories and reloads (debounced) when a policy file is added, changed or removed.
 * The reload itself (PolicyLoader) builds the new set off to the side and swaps it in atomically, or keeps the last
 * good set when the new files do not load.
 */
import { type FSWatcher, watch } from "chokidar";
import type { Logger } from "../observability/logger.js";

const YAML_FILE = /\.ya?ml$/;

export class PolicyWatcher {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dirs: readonly string[],
    private readonly reload: (trigger: string) => Promise<unknown>,
    private readonly logger: Logger,
    private readonly debounceMs = 200,
  ) {}

  start(): Promise<void> {
    const watcher = watch([...this.dirs], {
      ignoreInitial: true,
      // Editors write in several steps; wait until a file stops changing before reading it.
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
      ignored: (path, stats) => stats?.isFile() === true && !YAML_FILE.test(path),
    });
    this.watcher = watcher;
    watcher.on("all", (event, path) => {
      if (!["add", "change", "unlink", "unlinkDir", "addDir"].includes(event)) return;
      this.schedule(`${event} ${path}`);
    });
    watcher.on("error", (err) => this.logger.error({ err }, "policy directory watch failed"));
    return new Promise((resolve) => watcher.once("ready", () => resolve()));
  }

  private schedule(trigger: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload(`file change (${trigger})`);
    }, this.debounceMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
  }
}
