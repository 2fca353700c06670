/**
 * How often the event loop got a turn while `work` ran, and the longest wait between two turns: what a Check arriving
 * meanwhile would have waited at most. For tests of work done in slices.
 */
export async function turnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; turns: number; longestGapMs: number }> {
  let turns = 0;
  let longestGapMs = 0;
  let last = performance.now();
  let done = false;
  const tick = () => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns, longestGapMs };
  } finally {
    done = true;
  }
}
