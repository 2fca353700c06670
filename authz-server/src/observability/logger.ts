/**
 * Structured JSON logs (pino) on stdout, written asynchronously so a log line never blocks a Check. Decision lines,
 * the only per-request ones, are batched per event-loop turn by LineBatcher before they reach this destination.
 * Callers redact credentials before logging them (see model/sensitive-headers.ts): checking the few header names in our own code
 * is cheaper than pino's path-based redaction on every decision line.
 */
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination: pino.DestinationStream | number = 1): Logger {
  const stream = typeof destination === "number" ? pino.destination({ dest: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { service: "trustgate" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** Writes out buffered log lines (before exit). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // A closed stdout at exit is not worth crashing over.
  }
}
