/**
 * `trustgate serve`: load configuration, start the listeners, reload policies on SIGHUP, stop gracefully on
 * SIGTERM/SIGINT. Start-up problems (bad config, policies that do not load, a busy port) exit non-zero with the
 * reason in one line on stderr, after closing whatever was already opened.
 */

import { availableCpus } from "../app/available-cpus.js";
import { limitHeapGrowth } from "../app/heap-growth.js";
import { turnOffPretenuring } from "../app/pretenuring.js";
import { type RunningServer, startServer } from "../app/trustgate-server.js";
import { loadConfig } from "../config/load-config.js";
import { LogDestination } from "../observability/log-destination.js";
import { createLogger, flushLogger } from "../observability/logger.js";
import { canShareOutput } from "../observability/shared-output.js";

export interface ServeFlags {
  config?: string;
  grpcAddr?: string;
  httpAddr?: string;
  policyDir?: string[];
  policySource?: string;
  workloads?: string;
  dryRun?: boolean;
  logLevel?: string;
  /** A number, or "auto". */
  workers?: string;
}

function workersFlag(value: string | undefined): number | "auto" | string | undefined {
  if (value === undefined || value === "auto") return value;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The flag behind each configuration key a flag can set, so an invalid value is reported under the flag. */
const FLAG_NAMES: Readonly<Record<string, string>> = {
  "grpc.addr": "--grpc-addr",
  "http.addr": "--http-addr",
  "policies.dir": "--policy-dir",
  "policies.extraDirs": "--policy-dir",
  "policies.source": "--policy-source",
  "workloads.file": "--workloads",
  "policies.dryRun": "--dry-run",
  "log.level": "--log-level",
  workers: "--workers",
};

export async function serve(flags: ServeFlags): Promise<number> {
  limitHeapGrowth();
  turnOffPretenuring();
  const dirs = flags.policyDir ?? [];
  const loaded = await loadConfig(
    flags.config,
    process.env,
    {
      "grpc.addr": flags.grpcAddr,
      "http.addr": flags.httpAddr,
      // The first --policy-dir is policies.dir; more of them replace policies.extraDirs (one keeps the configured).
      "policies.dir": dirs[0],
      "policies.extraDirs": dirs.length > 1 ? dirs.slice(1) : undefined,
      "policies.source": flags.policySource,
      "workloads.file": flags.workloads,
      "policies.dryRun": flags.dryRun,
      "log.level": flags.logLevel,
      workers: workersFlag(flags.workers),
    },
    FLAG_NAMES,
  );
  if (!loaded.ok) {
    console.error(`trustgate serve: invalid configuration: ${loaded.error.includes("\n") ? "\n" : ""}${loaded.error}`);
    return 2;
  }
  const config = loaded.config;
  const workers = config.workers === "auto" ? availableCpus() : config.workers;
  // Worker processes write their lines to a shareable stdout themselves; this process then writes in atomic pieces too.
  const output = workers > 1 && canShareOutput(1) ? new LogDestination(1, { shared: {} }) : 1;
  const logger = createLogger(config.log.level, output);
  // The first line says which process this is and what it was started with: a supervisor's log starts here.
  logger.info(
    {
      event: "starting",
      pid: process.pid,
      node: process.version,
      config: flags.config ?? (process.env.TRUSTGATE_CONFIG || null),
      workers,
    },
    `trustgate starting (pid ${process.pid}, node ${process.version}, ${workers === 1 ? "1 process" : `${workers} worker processes`})`,
  );
  let server: RunningServer;
  try {
    server = await startServer(config, logger, process.env, { workers });
  } catch (err) {
    const message = (err as Error).message;
    logger.fatal({ event: "start-up failed", error: message }, "start-up failed");
    flushLogger(logger);
    console.error(`trustgate serve: ${message}`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.stop(signal).then(() => resolve(0));
    };
    // The handler stays installed while shutting down: without one, a SIGHUP (a config-management reload racing a
    // rollout) would kill the process in the middle of its grace period.
    const onHup = () => {
      if (!stopping) {
        void server.reload("SIGHUP");
        return;
      }
      logger.warn({ event: "signal ignored", signal: "SIGHUP" }, "SIGHUP ignored: shutting down");
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", onHup);
  });
}
