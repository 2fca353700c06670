/**
 * `trustgate serve`: load configuration, start the listeners, reload policies on SIGHUP, stop gracefully on
 * SIGTERM/SIGINT. Start-up problems (bad config, policies that do not load, a busy port) exit non-zero with the
 * reason.
 */
import { type Config, ConfigError, loadConfig } from "../config/config.js";
import { createLogger, flushLogger } from "../observability/logger.js";
import { PolicyLoadFailed } from "../server/policy-loader.js";
import { type RunningServer, startServer } from "../server/trustgate-server.js";

export interface ServeFlags {
  config?: string;
  grpcAddr?: string;
  httpAddr?: string;
  policyDir?: string;
  dryRun?: boolean;
  logLevel?: string;
}

export async function serve(flags: ServeFlags): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(flags.config, process.env, {
      "grpc.addr": flags.grpcAddr,
      "http.addr": flags.httpAddr,
      "policies.dir": flags.policyDir,
      "policies.dryRun": flags.dryRun,
      "log.level": flags.logLevel,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`trustgate: invalid configuration:\n${err.message}`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    const message = err instanceof PolicyLoadFailed ? err.message : (err as Error).message;
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
