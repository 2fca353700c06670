import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RetryTimer } from "./retry-timer.js";

describe("RetryTimer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("retries after a doubling delay up to the bound, once per scheduled retry, and starts over after a success", () => {
    const timer = new RetryTimer(100, 300);
    const at: number[] = [];
    const attempt = () => {
      at.push(Date.now());
      if (at.length < 4) timer.failed(attempt);
      else timer.succeeded();
    };
    const start = Date.now();
    timer.failed(attempt);
    timer.failed(attempt); // already scheduled: no second retry, no faster growth
    expect(timer.failing && timer.scheduled).toBe(true);
    vi.advanceTimersByTime(2_000);
    expect(at.map((t) => t - start)).toEqual([100, 300, 600, 900]);
    expect(timer.failing || timer.scheduled).toBe(false);
    timer.failed(attempt);
    vi.advanceTimersByTime(100);
    expect(at.at(-1)! - start).toBe(2_100);
  });

  it("runs nothing after cancel", () => {
    const timer = new RetryTimer(100, 100);
    const retry = vi.fn();
    timer.failed(retry);
    timer.cancel();
    vi.advanceTimersByTime(1_000);
    expect(retry).not.toHaveBeenCalled();
  });
});
