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
  policySource?: string;
  dryRun?: boolean;
  logLevel?: string;
}

export async function serve(flags: ServeFlags): Promise<number> {
  const loaded = await loadConfig(flags.config, process.env, {
    "grpc.addr": flags.grpcAddr,
    "http.addr": flags.httpAddr,
    "policies.dir": flags.policyDir,
    "policies.source": flags.policySource,
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
    const stop = (signal: string) => {
      process.off("SIGHUP", onHup);
      server.stop(signal).then(() => resolve(0));
    };
    const onHup = () => void server.reload("SIGHUP");
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", onHup);
  });
}
