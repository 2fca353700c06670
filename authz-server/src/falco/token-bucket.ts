/**
 * A token bucket for the ingest rate limit: `ratePerSecond` tokens flow in continuously up to `burst`; each alert
 * takes one. A batch is taken whole or not at all, so a refused request records nothing.
 */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updatedMs = now();
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.updatedMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.ratePerSecond);
      this.updatedMs = now;
    }
  }

  /** Takes `count` tokens if all are available. */
  take(count: number): boolean {
    this.refill();
    if (count > this.tokens) return false;
    this.tokens -= count;
    return true;
  }

  /** Whether at least one token is available (checked before reading a body). */
  hasAny(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  /** Whole seconds until `count` tokens will be available (for Retry-After); at least 1. */
  secondsUntil(count: number): number {
    this.refill();
    const missing = Math.max(0, Math.min(count, this.burst) - this.tokens);
    return Math.max(1, Math.ceil(missing / this.ratePerSecond));
  }
}
