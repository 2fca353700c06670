/**
 * The decision log: which decisions are logged (denies always unless decision logs are off; allows sampled down
 * when asked), formatted by decision-line.ts, into a line sink (the process's LogDestination, or any other sink
 * such as a shipper). The record → line → sink boundary keeps the formatting pure and the sink replaceable.
 */
import { type DecisionRecord, formatDecisionLine } from "./decision-line.js";
import type { LineSink } from "./log-destination.js";

export type { DecisionRecord };

export interface DecisionLogSettings {
  readonly mode: "all" | "deny" | "none";
  /** Fraction of allow decisions logged (0..1) when mode is "all". */
  readonly sampleRate: number;
  /** Fields after `service` on every line, as JSON text starting with a comma (e.g. `,"worker":2`); "" for none. */
  readonly prefix?: string;
}

export class DecisionLog {
  private readonly prefix: string;
  /** The ISO time string of the last millisecond a line was written in: most lines under load share one. */
  private lastMs = 0;
  private lastIso = "";

  constructor(
    /** null when decision logs are off (level above info). */
    private readonly sink: LineSink | null,
    private readonly settings: DecisionLogSettings,
    private readonly random: () => number = Math.random,
  ) {
    this.prefix = settings.prefix ?? "";
  }

  shouldLog(allowed: boolean): boolean {
    const { mode, sampleRate } = this.settings;
    if (mode === "none" || this.sink === null) return false;
    if (!allowed) return true;
    if (mode === "deny") return false;
    return sampleRate >= 1 || this.random() < sampleRate;
  }

  write(record: DecisionRecord, durationMs: number): void {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastIso = new Date(now).toISOString();
    }
    this.sink!.write(formatDecisionLine(record, durationMs, this.lastIso, this.prefix));
  }
}
