/**
 * The decision log: which decisions are logged (denies always unless decision logs are off; allows sampled down
 * when asked), formatted by decision-line.ts, written to the process's log destination (stdout, batched) and, when a
 * shipper is configured, handed to it as well. The record → line → sink boundary keeps the formatting pure and the
 * sinks replaceable.
 */
import { SENSITIVE_HEADERS } from "../model/sensitive-headers.js";
import { AfterResponse } from "../util/after-response.js";
import { DecisionLineFormatter, type DecisionRecord, type TraceIds } from "./decision-line.js";
import type { BatchedLineSink } from "./log-destination.js";
import { decisionSinkOf, type Logger } from "./logger.js";
import { traceIdsOf } from "./trace-context.js";

export type { DecisionRecord, TraceIds };

export interface DecisionLogSettings {
  readonly mode: "all" | "deny" | "none";
  /** Fraction of allow decisions logged (0..1) when mode is "all". */
  readonly sampleRate: number;
  /** Header names whose values are replaced by `[redacted]` (default: the built-in list). */
  readonly sensitiveHeaders?: ReadonlySet<string>;
  /** Allow lines carry the request headers too (deny lines always do). */
  readonly allowHeaders?: boolean;
  /** Fields on every line after `service` (e.g. the worker number), as in the logger's base. */
  readonly fields?: Readonly<Record<string, string | number>>;
  /**
   * Format lines after the Check's response is out (util/after-response.ts) rather than before it: with one request
   * in flight, formatting a line was on the path of every answer. The serving processes set it; `flush` writes
   * whatever is still waiting.
   */
  readonly afterResponse?: boolean;
}

/** A decision waiting to be formatted. */
interface PendingLine {
  readonly record: DecisionRecord;
  readonly durationMs: number;
  readonly trace: TraceIds | null;
  readonly traceHeaders: Readonly<Record<string, string>> | null;
  readonly nowMs: number;
}

/** Somewhere else decision lines go besides stdout (a collector). */
export interface DecisionLineShipper {
  ship(line: string, record: DecisionRecord, trace: TraceIds | null): void;
}

export class DecisionLog {
  /** null when info lines are off. */
  private readonly sink: (BatchedLineSink & { flush(): void }) | null;
  private readonly formatter: DecisionLineFormatter;
  private readonly pending: PendingLine[] = [];
  private readonly later: AfterResponse | null;

  constructor(
    logger: Logger,
    private readonly settings: DecisionLogSettings,
    private readonly random: () => number = Math.random,
    private readonly shipper: DecisionLineShipper | null = null,
  ) {
    this.sink = decisionSinkOf(logger);
    const fields = Object.entries(settings.fields ?? {});
    this.formatter = new DecisionLineFormatter({
      prefix: fields.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join(""),
      sensitiveHeaders: settings.sensitiveHeaders ?? SENSITIVE_HEADERS,
      allowHeaders: settings.allowHeaders === true,
    });
    this.later = settings.afterResponse === true ? new AfterResponse(() => this.writePending()) : null;
  }

  /** Formats the decisions still waiting, and hands lines still batched in the destination to stdout. */
  flush(): void {
    this.writePending();
    this.sink?.flush();
  }

  shouldLog(allowed: boolean): boolean {
    const { mode, sampleRate } = this.settings;
    if (mode === "none" || this.sink === null) return false;
    if (!allowed) return true;
    if (mode === "deny") return false;
    return sampleRate >= 1 || this.random() < sampleRate;
  }

  /**
   * `trace`: the span that recorded the Check, when one did. Otherwise `traceHeaders`, the request's headers: the line
   * names the caller's span from them (W3C or B3), read when the line is formatted.
   */
  write(
    record: DecisionRecord,
    durationMs: number,
    trace: TraceIds | null = null,
    traceHeaders: Readonly<Record<string, string>> | null = null,
  ): void {
    if (this.later === null) {
      this.writeLine(record, durationMs, trace, traceHeaders, Date.now());
      return;
    }
    this.pending.push({ record, durationMs, trace, traceHeaders, nowMs: Date.now() });
    this.later.request();
  }

  private writePending(): void {
    const { pending } = this;
    try {
      for (let i = 0; i < pending.length; i++) {
        const p = pending[i]!;
        this.writeLine(p.record, p.durationMs, p.trace, p.traceHeaders, p.nowMs);
      }
    } finally {
      pending.length = 0;
    }
  }

  private writeLine(
    record: DecisionRecord,
    durationMs: number,
    recorded: TraceIds | null,
    traceHeaders: Readonly<Record<string, string>> | null,
    nowMs: number,
  ): void {
    const trace = recorded ?? (traceHeaders && traceIdsOf(traceHeaders));
    const line = this.formatter.line(record, durationMs, trace, nowMs);
    this.sink!.append(line);
    this.shipper?.ship(line, record, trace);
  }
}
