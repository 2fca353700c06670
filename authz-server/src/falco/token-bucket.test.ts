import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("allows a burst, then refills at the rate, never above the burst", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 5, () => now);
    expect(bucket.take(5)).toBe(true);
    expect(bucket.hasAny()).toBe(false);
    expect(bucket.secondsUntil(1)).toBe(1);
    now += 100;
    expect(bucket.take(1)).toBe(true);
    expect(bucket.take(1)).toBe(false);
    now += 10_000;
    expect(bucket.take(6)).toBe(false);
    expect(bucket.take(5)).toBe(true);
  });

  it("takes a batch whole or not at all", () => {
    let now = 0;
    const bucket = new TokenBucket(1, 3, () => now);
    expect(bucket.take(2)).toBe(true);
    expect(bucket.take(2)).toBe(false);
    expect(bucket.take(1)).toBe(true);
    now += 2000;
    expect(bucket.secondsUntil(3)).toBe(1);
  });
});
