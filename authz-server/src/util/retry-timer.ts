/**
 * A retry after a failure, on a timer that never keeps the process alive, with exponential backoff: the first retry
 * after `firstMs`, each later one of the same streak twice as late, up to `maxMs`; a success ends the streak.
 */
export class RetryTimer {
  private timer: NodeJS.Timeout | null = null;
  private delayMs = 0;

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
  ) {}

  /** In a streak of failures: a retry is due, or the last attempt failed and no success came since. */
  get failing(): boolean {
    return this.delayMs > 0;
  }

  /** A retry is waiting for its time. */
  get scheduled(): boolean {
    return this.timer !== null;
  }

  /** After a failure: runs `retry` after the next delay of the streak, unless a retry is already scheduled. */
  failed(retry: () => void): void {
    if (this.timer !== null) return;
    this.delayMs = Math.min(this.maxMs, this.delayMs === 0 ? this.firstMs : this.delayMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      retry();
    }, this.delayMs).unref();
  }

  /** After a success: the next failure starts a new streak. */
  succeeded(): void {
    this.delayMs = 0;
  }

  /** No retry any more (shutting down). */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
