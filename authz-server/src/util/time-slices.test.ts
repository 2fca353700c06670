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
    // Counted in steps, not time: a loaded machine that deschedules the test makes a 2 ms slice hold fewer 0.5 ms
    // steps, never more, so at most a few steps may run between two turns; work run in one piece would show all 40.
    let done = 0;
    const marks: number[] = [];
    function* countedSteps(): Generator<void, number> {
      for (const _ of busySteps(40, 0.5)) {
        done++;
        yield;
      }
      return 40;
    }
    const { result, turns } = await turnsDuring(() => {
      const mark = () => {
        marks.push(done);
        if (done < 40) setImmediate(mark);
      };
      setImmediate(mark);
      return new TimeSlices(2).run(countedSteps());
    });
    expect(result).toBe(40);
    expect(turns).toBeGreaterThan(5);
    const mostBetweenTurns = Math.max(...marks.map((m, i) => m - (i === 0 ? 0 : marks[i - 1]!)));
    expect(mostBetweenTurns).toBeLessThanOrEqual(8);
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
