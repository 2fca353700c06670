/**
 * Runs long work written as a generator (one `yield` per small step) on a thread that answers Checks: the event loop
 * gets a turn whenever the current slice has lasted `sliceMs`, so a Check that arrives meanwhile waits for the end of
 * one slice, not of the whole work. Each turn given costs a few microseconds.
 */
import { setImmediate as nextTurn } from "node:timers/promises";

/** Runs the same kind of work all at once, where nothing waits on this thread (the CLI, a worker thread, tests). */
export function runAtOnce<T>(steps: Generator<void, T>): T {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

export class TimeSlices {
  private sliceStart = performance.now();

  constructor(private readonly sliceMs: number) {}

  /** Runs `steps` to the end, in slices shared with whatever else this instance runs, and returns its result. */
  async run<T>(steps: Generator<void, T>): Promise<T> {
    let step: IteratorResult<void, T>;
    do {
      if (performance.now() - this.sliceStart >= this.sliceMs) {
        await nextTurn();
        this.sliceStart = performance.now();
      }
      step = steps.next();
    } while (!step.done);
    return step.value;
  }
}
