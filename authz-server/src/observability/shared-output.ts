/**
 * Writes whole lines to an output that other processes write to at the same time: with worker processes, every
 * worker writes its lines straight to the primary's stdout instead of passing them through the primary (which cost
 * the primary a tenth of a core and the workers 10–25 % of their throughput under load).
 *
 * No line may be cut or mixed with another process's. POSIX makes a write() of at most PIPE_BUF bytes (4096 on
 * Linux) to a pipe atomic, and a regular file or a character device (a terminal, /dev/null) does not interleave two
 * write() calls either. So every write() here holds whole lines and at most 4096 bytes, one write at a time. A line
 * longer than that cannot be written atomically: a worker hands it to the primary (`forwardLong`), and the primary
 * writes it while every worker holds its output (`gate`), then lets them go on.
 */
import { fstatSync, write, writeSync } from "node:fs";

/** PIPE_BUF on Linux: the largest write() a pipe keeps whole whatever else writes to it. */
export const ATOMIC_WRITE_BYTES = 4096;
const NEWLINE = 0x0a;
const RETRY_MS = 10;

/**
 * Whether several processes can write lines to `fd` with atomic writes: a pipe (a container runtime's stdout), a
 * regular file or a character device. Not a socket (systemd's journal stream): a stream socket promises no atomic
 * write, so there every line keeps going through the one process that owns the output.
 */
export function canShareOutput(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isFile() || stat.isCharacterDevice();
  } catch {
    return false;
  }
}

/** The primary's way to write a long line alone: every other writer is held between `acquire` and `release`. */
export interface OutputGate {
  acquire(): Promise<void>;
  release(): void;
}

export interface SharedOutputOptions {
  readonly fd: number;
  /** Output queued and not yet written beyond this is dropped (and counted). */
  readonly maxQueuedBytes: number;
  /** A worker: where a line longer than ATOMIC_WRITE_BYTES goes (to the primary). Absent: it is written under the gate. */
  readonly forwardLong?: (line: Buffer) => void;
  /** Starts held (a worker started while the primary writes a long line). */
  readonly held?: boolean;
}

/** A queued write: up to 4096 bytes of whole lines, or (primary only) one long line to write under the gate. */
interface Piece {
  bytes: Buffer;
  readonly long: boolean;
}

/** Lines in bytes that hold whole lines (what a dropped chunk counts as). */
export function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

function isRetryable(err: NodeJS.ErrnoException): boolean {
  return err.code === "EAGAIN" || err.code === "EWOULDBLOCK" || err.code === "EINTR";
}

/**
 * Cuts whole lines into pieces of at most `max` bytes, each ending at a line's end, in order; a line longer than `max`
 * goes to `long` instead. The pieces are views of `chunk`, not copies.
 */
export function cutWholeLines(
  chunk: Buffer,
  max: number,
  piece: (bytes: Buffer) => void,
  long: (line: Buffer) => void,
): void {
  let start = 0;
  while (start < chunk.length) {
    let end = chunk.length;
    if (end - start > max) {
      const lastNewline = chunk.lastIndexOf(NEWLINE, start + max - 1);
      if (lastNewline < start) {
        const lineEnd = chunk.indexOf(NEWLINE, start);
        end = lineEnd === -1 ? chunk.length : lineEnd + 1;
        long(chunk.subarray(start, end));
        start = end;
        continue;
      }
      end = lastNewline + 1;
    }
    piece(chunk.subarray(start, end));
    start = end;
  }
}

export class SharedOutput {
  droppedLines = 0;
  private queue: Piece[] = [];
  private queuedBytes = 0;
  private writing = false;
  private held: boolean;
  private closed = false;
  private gate: OutputGate | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: SharedOutputOptions) {
    this.held = options.held ?? false;
  }

  /** The primary's gate, once its workers exist (before that, nothing else writes and a long line goes out as is). */
  setGate(gate: OutputGate | null): void {
    this.gate = gate;
  }

  /** Takes bytes that hold whole lines (each ending in "\n"), any amount; cuts them into atomic writes. */
  write(chunk: Buffer): void {
    cutWholeLines(
      chunk,
      ATOMIC_WRITE_BYTES,
      (piece) => this.enqueue({ bytes: piece, long: false }),
      (line) => this.long(line),
    );
    this.pump();
  }

  /** Stops writing; resolves once no write is in flight (the primary is about to write a long line). */
  hold(): Promise<void> {
    this.held = true;
    return this.idle();
  }

  release(): void {
    this.held = false;
    this.pump();
  }

  /** Resolves once no write is in flight and, unless held, nothing is queued. */
  idle(): Promise<void> {
    if (!this.writing && (this.held || this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes everything queued before returning (at exit), whether held or not: the process is going away. */
  flushSync(): void {
    if (this.closed) return;
    // A piece in flight is the thread pool's to finish; everything after it is written here.
    for (const piece of this.writing ? this.queue.slice(1) : this.queue) {
      let bytes = piece.bytes;
      for (let tries = 0; bytes.length > 0 && tries < 1000; ) {
        try {
          bytes = bytes.subarray(writeSync(this.options.fd, bytes));
        } catch (err) {
          if (!isRetryable(err as NodeJS.ErrnoException)) return;
          tries++;
        }
      }
    }
    this.queue = this.writing ? this.queue.slice(0, 1) : [];
    this.queuedBytes = this.queue.reduce((n, p) => n + p.bytes.length, 0);
  }

  private long(line: Buffer): void {
    const forward = this.options.forwardLong;
    if (forward !== undefined) forward(line);
    else this.enqueue({ bytes: line, long: true });
  }

  private enqueue(piece: Piece): void {
    if (this.closed || this.queuedBytes + piece.bytes.length > this.options.maxQueuedBytes) {
      this.droppedLines += countLines(piece.bytes);
      return;
    }
    this.queue.push(piece);
    this.queuedBytes += piece.bytes.length;
  }

  private pump(): void {
    const piece = this.queue[0];
    if (this.writing || this.held || piece === undefined) {
      this.settle();
      return;
    }
    this.writing = true;
    if (piece.long && this.gate !== null) {
      const gate = this.gate;
      void gate.acquire().then(() => this.writeOut(piece, () => gate.release()));
    } else {
      this.writeOut(piece, () => undefined);
    }
  }

  /** Writes the piece to its end (a long line can take several writes), then `done`, then the next piece. */
  private writeOut(piece: Piece, done: () => void): void {
    write(this.options.fd, piece.bytes, 0, piece.bytes.length, null, (err, written) => {
      if (err) {
        if (isRetryable(err)) {
          setTimeout(() => this.writeOut(piece, done), RETRY_MS);
          return;
        }
        // stdout is gone (EPIPE, EBADF): everything from here on is dropped and counted.
        this.closed = true;
        for (const p of this.queue) this.droppedLines += countLines(p.bytes);
        this.queue = [];
        this.queuedBytes = 0;
        this.finish(done);
        return;
      }
      if (written < piece.bytes.length) {
        piece.bytes = piece.bytes.subarray(written);
        this.queuedBytes -= written;
        this.writeOut(piece, done);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= written;
      this.finish(done);
    });
  }

  private finish(done: () => void): void {
    this.writing = false;
    done();
    this.pump();
  }

  private settle(): void {
    if (this.writing || (!this.held && this.queue.length > 0)) return;
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
