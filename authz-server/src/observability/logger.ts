/**
 * Structured JSON logs (pino) on stdout. Lines are buffered and written in batches (at 8 KiB, and at least every
 * 100 ms), so a busy server makes one write() per several decisions and no Check waits for a syscall or a thread-pool
 * hand-off; a quiet server still shows each line within 100 ms. Buffered lines are flushed on shutdown.
 * Callers redact credentials before logging them (see redaction.ts): checking the few header names in our own code
 * is cheaper than pino's path-based redaction on every decision line.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const BATCH_BYTES = 8192;
const FLUSH_EVERY_MS = 100;

export function createLogger(level: string, destination: pino.DestinationStream | number = 1): Logger {
  let stream: pino.DestinationStream;
  if (typeof destination === "number") {
    const file = pino.destination({ dest: destination, sync: false, minLength: BATCH_BYTES });
    setInterval(() => {
      try {
        file.flush();
      } catch {
        // A destination destroyed at exit: nothing left to flush.
      }
    }, FLUSH_EVERY_MS).unref();
    stream = file;
  } else stream = destination;
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
