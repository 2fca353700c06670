/**
 * Where every log line of a process goes: a batching front for pino's asynchronous destination (sonic-boom).
 *
 * Lines are encoded into a 64 KiB batch buffer as they are written, and the batch is handed on when it is full or
 * `flushDelayMs` after its first line. Two costs are avoided this way:
 * - per-line output. With one request in flight each decision is its own event-loop turn; handing each line on at
 *   once cost a write() and a thread-pool round trip (two thread wake-ups) per decision, several times the decision
 *   itself. Measured per line, all threads, one line per turn: this front + sonic-boom 2.0 µs, sonic-boom alone with
 *   `minLength` 5.5 µs (it re-measures its pending string on every write), pino's worker-thread transport 3.3 µs.
 * - lines kept as strings. A decision line is a rope of some forty pieces; held until a flush, it survived young-
 *   generation collections and was promoted, and under load the promoted lines made most of the old-generation
 *   garbage. Encoded at once, the rope dies young and the batch lives outside the JavaScript heap.
 *
 * Every line goes through the same front (pino's own lines too, and in a cluster primary the workers' lines when they
 * pass through it), so lines stay in order and whole: a process has exactly one writer on its output. When worker
 * processes write to the same stdout (shared-output.ts), every process writes atomic pieces of whole lines. What is
 * queued and not yet written is bounded (`maxBufferedBytes`): past it, lines are dropped and counted rather than
 * queued while stdout is stuck.
 */
import pino from "pino";
import { countLines, SharedOutput } from "./shared-output.js";

/** Something that takes whole lines. */
export interface LineSink {
  write(text: string): unknown;
}

/** Where decision lines go: batched with everything else, handed on with the next batch. */
export interface BatchedLineSink {
  append(text: string): void;
}

/** What batches are handed to: sonic-boom in buffer mode, or any stream (tests). */
export interface ByteSink {
  write(bytes: Buffer): unknown;
}

interface SonicBoomLike extends ByteSink {
  flushSync(): void;
  flush(done: (err?: Error) => void): void;
  on(event: "drop", listener: (data: Buffer) => void): unknown;
}

export interface LogDestinationOptions {
  /**
   * How long the first line of a batch may wait; 0 = until the end of the current event-loop turn. Default: 50 ms for
   * a file descriptor; a stream (tests) gets every line at once, as it is written.
   */
  readonly flushDelayMs?: number;
  /** Output queued and not yet written beyond this is dropped (counted in `droppedLines`). */
  readonly maxBufferedBytes?: number;
  /**
   * The file descriptor is written by other processes too (a cluster's stdout): written in atomic pieces of whole
   * lines (shared-output.ts) instead of through sonic-boom. `forwardLong`: a worker's way for a longer line.
   */
  readonly shared?: { readonly forwardLong?: (line: Buffer) => void; readonly held?: boolean };
}

const BATCH_BYTES = 64 * 1024;
/**
 * Written batches kept for the next ones (shared output only: it says when a batch is written). Without them every
 * batch was a new 64 KiB ArrayBuffer, freed only by a garbage collection: 4–10 MB of them under load.
 */
const SPARE_BATCHES = 2;
const DEFAULT_FLUSH_DELAY_MS = 50;
const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

export class LogDestination implements LineSink, BatchedLineSink {
  /** The shared output, when the file descriptor is shared with other processes. */
  readonly shared: SharedOutput | null = null;
  private ownDroppedLines = 0;
  private batch: Buffer = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private readonly spareBatches: Buffer[] = [];
  private used = 0;
  private scheduled = false;
  private readonly flushDelayMs: number;
  private readonly out: ByteSink;
  /** One timer, re-armed per batch (a fired timer can be refreshed; a cleared one cannot). */
  private timer: NodeJS.Timeout | null = null;
  private readonly flushBound = () => this.handOver();
  private soon = false;
  private readonly flushSoon = () => {
    this.soon = false;
    this.handOver();
  };

  /** `target`: a file descriptor (written asynchronously, by sonic-boom or SharedOutput) or a stream taking Buffers (tests). */
  constructor(target: number | ByteSink, options: LogDestinationOptions = {}) {
    this.flushDelayMs = options.flushDelayMs ?? (typeof target === "number" ? DEFAULT_FLUSH_DELAY_MS : -1);
    const maxQueuedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (typeof target === "number" && options.shared !== undefined) {
      this.shared = new SharedOutput({ fd: target, maxQueuedBytes, ...options.shared });
      this.out = this.shared;
    } else if (typeof target === "number") {
      const boom = pino.destination({
        dest: target,
        sync: false,
        contentMode: "buffer",
        maxLength: maxQueuedBytes,
      } as Parameters<typeof pino.destination>[0] & object) as unknown as SonicBoomLike;
      boom.on("drop", (data) => {
        this.ownDroppedLines += countLines(data);
      });
      this.out = boom;
    } else {
      this.out = target;
    }
  }

  /** Lines dropped because the output could not keep up (or was closed). */
  get droppedLines(): number {
    return this.ownDroppedLines + (this.shared?.droppedLines ?? 0);
  }

  /**
   * pino's lines (start-up, warnings, errors: few, and read by people): handed on at the end of this event-loop turn,
   * with whatever is batched before them.
   */
  write(text: string): boolean {
    this.append(text);
    if (this.used > 0 && !this.soon) {
      this.soon = true;
      setImmediate(this.flushSoon);
    }
    return true;
  }

  /** Takes one or more whole lines (each ending in "\n"), handed on with the batch. */
  append(text: string): void {
    // At most three bytes per UTF-16 unit: if that could overflow the batch, start a new one first.
    const worst = text.length * 3;
    if (this.used + worst > BATCH_BYTES) {
      this.handOver();
      if (worst > BATCH_BYTES) {
        this.out.write(Buffer.from(text, "utf8"));
        return;
      }
    }
    this.used += this.batch.write(text, this.used);
    this.schedule();
  }

  /** Takes bytes that hold whole lines (another process's output, already encoded). */
  writeBytes(bytes: Buffer): void {
    if (this.used + bytes.length > BATCH_BYTES) {
      this.handOver();
      if (bytes.length > BATCH_BYTES) {
        this.out.write(Buffer.from(bytes));
        return;
      }
    }
    this.used += bytes.copy(this.batch, this.used);
    this.schedule();
  }

  /** Hands the batch to the output now; it is written asynchronously, then `done` is called (pino's flush). */
  flush(done?: (err?: Error) => void): void {
    this.handOver();
    if (done === undefined) return;
    if (this.shared !== null) {
      void this.shared.idle().then(() => done());
      return;
    }
    const out = this.out as Partial<SonicBoomLike>;
    if (typeof out.flush === "function") out.flush(done);
    else done();
  }

  /** Writes everything out before returning (at exit). */
  flushSync(): void {
    this.handOver();
    const out = this.out as Partial<SonicBoomLike>;
    try {
      out.flushSync?.();
    } catch {
      // A closed stdout at exit is not worth crashing over.
    }
  }

  private schedule(): void {
    if (this.flushDelayMs < 0) {
      this.handOver();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.flushDelayMs === 0) setImmediate(this.flushBound);
    else if (this.timer === null) this.timer = setTimeout(this.flushBound, this.flushDelayMs).unref();
    else this.timer.refresh();
  }

  private handOver(): void {
    // A pending timer is left to fire into an empty batch: cheaper than clearing and re-creating it.
    this.scheduled = false;
    if (this.used === 0) return;
    const batch = this.batch;
    const chunk = batch.subarray(0, this.used);
    // The output keeps the chunk until it is written: the next batch is a written one or fresh memory.
    this.batch = this.spareBatches.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.used = 0;
    if (this.shared !== null) this.shared.write(chunk, () => this.reuse(batch));
    else this.out.write(chunk);
  }

  private reuse(batch: Buffer): void {
    if (this.spareBatches.length < SPARE_BATCHES) this.spareBatches.push(batch);
  }
}
