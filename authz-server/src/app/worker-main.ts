/**
 * The entry point of a worker process (the primary forks it through Node's cluster; see worker-pool.ts). Kept apart
 * from the CLI so that a worker loads only what answering Checks needs.
 */
import { runWorker } from "./cluster-worker.js";
import { limitHeapGrowth } from "./heap-growth.js";
import { turnOffPretenuring } from "./pretenuring.js";

limitHeapGrowth();
turnOffPretenuring();
process.exitCode = await runWorker();
// Timers and the cluster IPC channel would keep a drained worker alive; it has nothing left to do.
process.exit();
