/**
 * `trustgate serve`: load configuration, start the listeners, reload policies on SIGHUP, stop gracefully on
 * SIGTERM/SIGINT. Start-up problems (bad config, policies that do not load, a busy port) exit non-zero with the
 * reason.
 */

import { type RunningServer, startServer } from "../app/trustgate-server.js";
import { loadConfig } from "../config/load-config.js";
import { createLogger, flushLogger } from "../observability/logger.js";

export interface ServeFlags {
  config?: string;
  grpcAddr?: string;
  httpAddr?: string;
  policyDir?: string;
  dryRun?: boolean;
  logLevel?: string;
}

export async function serve(flags: ServeFlags): Promise<number> {
  const loaded = await loadConfig(flags.config, process.env, {
    "grpc.addr": flags.grpcAddr,
    "http.addr": flags.httpAddr,
    "policies.dir": flags.policyDir,
    "policies.dryRun": flags.dryRun,
    "log.level": flags.logLevel,
  });
  if (!loaded.ok) {
    console.error(`trustgate: invalid configuration:\n${loaded.error}`);
    return 2;
  }
  const config = loaded.config;
  const logger = createLogger(config.log.level);
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    const message = (err as Error).message;
    logger.fatal({ event: "start-up failed", error: message }, "start-up failed");
    flushLogger(logger);
    console.error(`trustgate: ${message}`);
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
