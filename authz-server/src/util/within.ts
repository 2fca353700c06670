/**
 * Waiting with a deadline, for shutdown steps that must never hold the exit (an unreachable Redis, a stalled
 * collector, a stuck watcher). The timer does not keep the process alive.
 */

/** Resolves when `work` settles or after `ms`, whichever is first; true when `work` settled in time. */
export function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    work.then(settled, settled);
  });
}
