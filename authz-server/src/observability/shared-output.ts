/**
 * Writes whole lines to an output that other processes write to at the same time: with worker processes, every
 * worker writes its lines straight to the primary's stdout instead of passing them through the primary (which cost
 * the primary a tenth of a core and the workers 10–25 % of their throughput under load).
 *
 * No line may be cut or mixed with another process's. What keeps a write() whole depends on the output:
 * - a pipe (a container runtime's stdout): POSIX makes a write() of at most PIPE_BUF bytes (4096 on Linux) atomic,
 *   and no more. So every write() here holds whole lines and at most 4096 bytes. A line longer than that cannot be
 *   written atomically: a worker hands it to the primary (`forwardLong`), and the primary writes it while every worker
 *   holds its output (`gate`), then lets them go on.
 * - a regular file or a character device (a terminal, /dev/null): Linux runs each write() whole under a lock (the
 *   file's position and inode locks; a terminal's write lock), so a batch goes out in one write(), as a single
 *   process's would. Cutting it into 4 KiB pieces cost a thread-pool round trip per piece, ~5 µs per logged Check.
 *
 * On a pipe the pieces are written from the main thread through a second, non-blocking descriptor of the same pipe
 * (a write of at most PIPE_BUF bytes there is whole or fails with EAGAIN, never partial, and never waits): the
 * thread-pool round trip per 4 KiB piece cost more than the write. Only a piece the pipe has no room for takes the
 * slow way: a thread-pool write on the shared descriptor, which waits for the reader (or, where that descriptor is
 * non-blocking too, as Node leaves a pipe it opened as process.stdout, retries every 10 ms).
 */
import { closeSync, constants, fstatSync, openSync, write, writeSync } from "node:fs";

/** PIPE_BUF on Linux: the largest write() a pipe keeps whole whatever else writes to it. */
export const ATOMIC_WRITE_BYTES = 4096;
const NEWLINE = 0x0a;
const RETRY_MS = 10;

/**
 * What `fd` is, when several processes can write lines to it with whole writes: a pipe (a container runtime's
 * stdout), a regular file or a character device. Not a socket (systemd's journal stream): a stream socket promises no
 * whole write, so there every line keeps going through the one process that owns the output.
 */
export type SharedOutputKind = "pipe" | "file" | "device";

export function sharedOutputKind(fd: number): SharedOutputKind | null {
  try {
    const stat = fstatSync(fd);
    if (stat.isFIFO()) return "pipe";
    if (stat.isFile()) return "file";
    return stat.isCharacterDevice() ? "device" : null;
  } catch {
    return null;
  }
}

export function canShareOutput(fd: number): boolean {
  return sharedOutputKind(fd) !== null;
}

/**
 * A second descriptor of the pipe behind `fd`, non-blocking (its own open file description: the flag does not reach
 * the other processes' descriptors), or null where that cannot be had (no /proc, no reader).
 */
function nonBlockingPipe(fd: number): number | null {
  try {
    const again = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    if (fstatSync(again).isFIFO()) return again;
    closeSync(again);
  } catch {
    // no /proc (not Linux), or the pipe has no reader right now: every piece goes through the thread pool
  }
  return null;
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
  /** What `fd` is (default: looked up). Decides the largest whole write and whether a pipe is written from here. */
  readonly kind?: SharedOutputKind | null;
}

/** A queued write: whole lines within one whole write, or (primary only) one long pipe line to write under the gate. */
interface Piece {
  bytes: Buffer;
  readonly long: boolean;
  /** The last piece of a chunk: called once it is written (the chunk's memory may be used again). */
  written: (() => void) | null;
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
  /** The largest write() that stays whole on this output. */
  private readonly wholeWriteBytes: number;
  /** A pipe's non-blocking descriptor (see the top of this file), or null. */
  private nonBlockingFd: number | null;

  constructor(private readonly options: SharedOutputOptions) {
    this.held = options.held ?? false;
    const kind = options.kind === undefined ? sharedOutputKind(options.fd) : options.kind;
    // Unknown (or gone) is treated as a pipe: the strictest rule.
    const pipe = kind === "pipe" || kind === null;
    this.wholeWriteBytes = pipe ? ATOMIC_WRITE_BYTES : Number.POSITIVE_INFINITY;
    this.nonBlockingFd = kind === "pipe" ? nonBlockingPipe(options.fd) : null;
  }

  /** Bytes taken and not yet written (a write in flight included). */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Closes what this output opened itself (the pipe's second descriptor); the output's own descriptor stays open. */
  close(): void {
    if (this.nonBlockingFd === null) return;
    closeSync(this.nonBlockingFd);
    this.nonBlockingFd = null;
  }

  /** The primary's gate, once its workers exist (before that, nothing else writes and a long line goes out as is). */
  setGate(gate: OutputGate | null): void {
    this.gate = gate;
  }

  /**
   * Takes bytes that hold whole lines (each ending in "\n"), any amount; cuts them into whole writes. `written`, if
   * given, is called once nothing refers to `chunk` any more (all of it written, or dropped), so its memory can be
   * used again; not at all if the output closes first.
   */
  write(chunk: Buffer, written?: () => void): void {
    const before = this.queue.length;
    cutWholeLines(
      chunk,
      this.wholeWriteBytes,
      (piece) => this.enqueue({ bytes: piece, long: false, written: null }),
      (line) => this.long(line),
    );
    if (written !== undefined) {
      if (this.queue.length > before) this.queue[this.queue.length - 1]!.written = written;
      else written();
    }
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
    // A copy: the chunk's memory may be reused once its own pieces are written, before the forwarded line is.
    if (forward !== undefined) forward(Buffer.from(line));
    else this.enqueue({ bytes: line, long: true, written: null });
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
    if (!this.writing && !this.held) this.writeWithoutWaiting();
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

  /** A pipe: writes queued pieces from here while the pipe has room; stops at a long line, a full pipe or an error. */
  private writeWithoutWaiting(): void {
    const fd = this.nonBlockingFd;
    if (fd === null) return;
    for (let piece = this.queue[0]; piece !== undefined && !piece.long; piece = this.queue[0]) {
      let written: number;
      try {
        written = writeSync(fd, piece.bytes);
      } catch {
        // EAGAIN (no room): the slow way waits for the reader. Anything else: the slow way's write finds out too.
        return;
      }
      this.queuedBytes -= written;
      if (written < piece.bytes.length) {
        // Not expected of a pipe (at most PIPE_BUF bytes are all or nothing); the rest goes the blocking way.
        piece.bytes = piece.bytes.subarray(written);
        return;
      }
      this.queue.shift();
      piece.written?.();
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
      piece.written?.();
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
