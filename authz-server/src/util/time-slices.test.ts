import { describe, expect, it } from "vitest";
import { turnsDuring } from "../../test/support/event-loop-turns.js";
import { TimeSlices } from "./time-slices.js";

/** Steps that each keep the thread busy for about `ms`. */
function* busySteps(count: number, ms: number): Generator<void, number> {
  for (let i = 0; i < count; i++) {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy on purpose
    }
    yield;
  }
  return count;
}

describe("TimeSlices", () => {
  it("gives the event loop a turn between slices and returns the work's result", async () => {
    const { result, turns, longestGapCpuMs } = await turnsDuring(() => new TimeSlices(2).run(busySteps(40, 0.5)));
    expect(result).toBe(40);
    // 20 ms of work in slices of about 2 ms: several turns, none of them waiting for the whole work (counted in CPU
    // time: on a loaded machine the clock also counts the time the test was not running at all).
    expect(turns).toBeGreaterThan(5);
    expect(longestGapCpuMs).toBeLessThan(15);
  });

  it("runs short work without giving a turn", async () => {
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    expect(await new TimeSlices(1000).run(busySteps(3, 0))).toBe(3);
    expect(turned).toBe(false);
  });
});
