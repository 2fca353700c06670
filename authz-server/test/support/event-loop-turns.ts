/**
 * How often the event loop got a turn while `work` ran, and the longest wait between two turns: what a Check arriving
 * meanwhile would have waited at most. For tests of work done in slices. `longestGapCpuMs` counts the process's CPU
 * time instead of the clock's, so a busy machine descheduling the test does not count as a slice that ran too long.
 */
export async function turnsDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; turns: number; longestGapMs: number; longestGapCpuMs: number }> {
  let turns = 0;
  let longestGapMs = 0;
  let longestGapCpuMs = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let done = false;
  const tick = () => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    longestGapMs = Math.max(longestGapMs, now - last);
    longestGapCpuMs = Math.max(longestGapCpuMs, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000);
    last = now;
    lastCpu = cpu;
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns, longestGapMs, longestGapCpuMs };
  } finally {
    done = true;
  }
}
