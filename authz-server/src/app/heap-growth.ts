/**
 * How far V8 lets the old generation grow between full collections. By default it grows by up to 4× the live heap
 * when collections look cheap; for a server whose live heap is a few tens of MB, that is 100+ MB of garbage held at
 * the peak of a load. Measured on the benchmark's c4 m16 load, one process, alternating servers (CPU µs per Check
 * from /proc, all threads): V8's default peaked at 155–201 MB, a factor of 2 at 110–126 MB for about 9 % more CPU
 * (more full collections), a factor of 2.5 at 122–123 MB for about 1 % more. So 2.5. Set at run time, so that every
 * way of starting trustgate gets it; a `--heap-growing-percent` given to node explicitly wins.
 */
import { setFlagsFromString } from "node:v8";

export const HEAP_GROWING_PERCENT = 150;

export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((a) => a.startsWith("--heap-growing-percent") || a.startsWith("--heap_growing_percent"))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
