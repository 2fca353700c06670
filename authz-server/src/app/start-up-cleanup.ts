/**
 * What a start-up has opened so far (watchers, listeners, connections), so that a start-up that fails half-way
 * closes it again and the process can exit instead of idling on a watcher or a half-bound listener.
 */
import type { Logger } from "../observability/logger.js";

export class StartUpCleanup {
  private readonly closers: Array<{ what: string; close: () => Promise<void> | void }> = [];

  constructor(private readonly logger: Logger) {}

  /** Registers how to close something just opened (closed in reverse order). */
  opened(what: string, close: () => Promise<void> | void): void {
    this.closers.push({ what, close });
  }

  /** Closes everything opened so far, newest first; a failure to close one thing does not stop the others. */
  async closeAll(): Promise<void> {
    for (const { what, close } of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        this.logger.warn(
          { event: "start-up cleanup failed", what, err },
          `could not close ${what} after start-up failed`,
        );
      }
    }
  }
}
