/**
 * V8's allocation-site pretenuring, turned off. Once most objects from one allocation site have survived a young-
 * generation collection, V8 allocates that site's later objects straight in the old generation, and keeps doing so.
 * The per-call objects of grpc-js and node:http2 (the call, the stream, their listeners) can earn that decision,
 * e.g. under a burst of concurrent Checks, where many calls are live at every scavenge. After it, each call leaves
 * garbage in the old generation, and that garbage keeps the young objects it points to alive through the next
 * scavenges, which promotes them too.
 *
 * Measured (one process, the benchmark's 50 policies, c4 m16 rounds, then one Check in flight): in 6 of 8 processes
 * a fifth of all allocated bytes was promoted from then on, a full collection ran every 0.4 s, and p99 was 0.6–0.9 ms
 * instead of 0.2–0.3 ms; with pretenuring off, 0 of 8. Which processes were hit was chance (the feedback V8 happened
 * to sample), which is why the benchmark's one-in-flight p99 and CPU per Check swung between runs of the same code.
 *
 * Set at run time, so that every way of starting trustgate gets it; an explicit flag given to node wins.
 */
import { setFlagsFromString } from "node:v8";

export function turnOffPretenuring(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((a) => /^--(no-)?allocation[-_]site[-_]pretenuring\b/.test(a))) return;
  setFlagsFromString("--no-allocation-site-pretenuring");
}
