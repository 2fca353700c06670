/**
 * Structured JSON logs (pino) on stdout. Every line of the process — pino's and the decision log's — goes through
 * one LogDestination (batched, asynchronous, bounded), so a log line never blocks a Check and lines never interleave.
 * Callers redact credentials before logging them (see model/sensitive-headers.ts): checking the few header names in
 * our own code is cheaper than pino's path-based redaction on every decision line.
 */
import pino, { type Logger } from "pino";
import { type ByteSink, LogDestination } from "./log-destination.js";

export type { Logger };

export interface LoggerOptions {
  /** Fields on every line after `service` (e.g. `{ worker: 2 }` in a cluster worker). */
  readonly fields?: Readonly<Record<string, string | number>>;
}

/** `destination`: a file descriptor (default stdout) or a stream taking Buffers (tests). */
export function createLogger(
  level: string,
  destination: ByteSink | number | LogDestination = 1,
  options: LoggerOptions = {},
): Logger {
  const stream = destination instanceof LogDestination ? destination : new LogDestination(destination);
  return pino(
    {
      level,
      base: { service: "trustgate", ...options.fields },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** The logger's destination, where decision lines go too. */
export function logDestinationOf(logger: Logger): LogDestination {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (!(stream instanceof LogDestination)) throw new Error("logger was not created by createLogger");
  return stream;
}

/** Writes out buffered log lines before returning (before exit). */
export function flushLogger(logger: Logger): void {
  logDestinationOf(logger).flushSync();
}

/** Where decision lines go: the logger's destination, or null when info lines are off. */
export function decisionSinkOf(logger: Logger): LogDestination | null {
  return logger.isLevelEnabled("info") ? logDestinationOf(logger) : null;
}
