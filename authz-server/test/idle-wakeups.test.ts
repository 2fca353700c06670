/**
 * An idle `trustgate serve` leaves the CPUs alone. The event-loop delay histogram's timer was the one thing that woke
 * an idle serving process, 100 times a second at prom-client's default; beside such neighbours a process answering one
 * Check at a time was measurably slower (metrics.ts). Counted from /proc (Linux): voluntary context switches of each
 * process's main thread while nothing is asked of it. The histogram must still be exported and sampling.
 */
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type ServeProcess, startServe } from "./support/process.js";

const linux = existsSync("/proc/self/task");

/** Voluntary context switches of a process's main thread: one per time it went to sleep. */
function sleeps(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, "utf8");
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
}

function children(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return text === "" ? [] : text.split(" ").map(Number);
}

/** Main-thread wake-ups per second of each process over `ms`. */
async function wakeupsPerSecond(pids: number[], ms: number): Promise<number[]> {
  const before = pids.map(sleeps);
  await new Promise((r) => setTimeout(r, ms));
  return pids.map((pid, i) => ((sleeps(pid) - before[i]!) * 1000) / ms);
}

let serve: ServeProcess | null = null;
afterEach(async () => {
  await serve?.stop();
  serve = null;
});

describe.skipIf(!linux)("an idle serving process", () => {
  it("wakes at most a few dozen times a second, in one process and in a primary with two workers", async () => {
    for (const workers of ["1", "2"]) {
      serve = await startServe(["--policy-dir", "policies", "--workers", workers], { TRUSTGATE_POLICY_WATCH: "false" });
      const pid = serve.child.pid!;
      // Ready means one worker serves: wait for both, then let start-up work (compiling the policies) finish.
      const expected = workers === "1" ? 1 : 3;
      for (let i = 0; i < 100 && 1 + children(pid).length < expected; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1500));
      const pids = [pid, ...children(pid)];
      expect(pids).toHaveLength(expected);
      const rates = await wakeupsPerSecond(pids, 3000);
      // About 10 a second (the histogram at 100 ms), and whatever else wakes now and then; 100+ before.
      for (const rate of rates) expect(rate, `wake-ups per second of ${pids.join(", ")}: ${rates}`).toBeLessThan(40);
      await serve.stop();
      serve = null;
    }
  });

  it("still exports the event-loop delay histogram, sampled", async () => {
    serve = await startServe(["--policy-dir", "policies"], { TRUSTGATE_POLICY_WATCH: "false" });
    await new Promise((r) => setTimeout(r, 1200));
    const text = await (await fetch(`${serve.httpUrl}/metrics`)).text();
    const p99 = /^trustgate_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
    expect(p99, text.slice(0, 400)).not.toBeNull();
    expect(Number(p99![1])).toBeGreaterThan(0);
  });
});
