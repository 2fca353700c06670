/**
 * Passes another process's log output on whole lines only: chunks read from a pipe end anywhere, so the text after
 * the last newline waits for the rest of its line. With several worker processes each writing to its own pipe and
 * the primary writing every complete line through its one destination, lines from different workers never
 * interleave and are never cut, however long (a pipe write is atomic only up to 4 KiB).
 */
/** Where whole lines go (a LogDestination), as bytes: no decoding and re-encoding on the way through. */
export interface BytesSink {
  writeBytes(bytes: Buffer): void;
}

const NEWLINE = 0x0a;
/** A partial line longer than this is not a log line: it is written out as it is rather than held without bound. */
const MAX_PARTIAL_BYTES = 16 * 1024 * 1024;

export class LineForwarder {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(private readonly sink: BytesSink) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.keep(chunk);
      return;
    }
    let whole = chunk.subarray(0, last + 1);
    if (this.partial.length > 0) {
      whole = Buffer.concat([...this.partial, whole]);
      this.partial = [];
      this.partialBytes = 0;
    }
    this.sink.writeBytes(whole);
    if (last + 1 < chunk.length) this.keep(chunk.subarray(last + 1));
  }

  /** The other side closed: a last line without its newline is ended here, so it cannot run into another. */
  end(): void {
    if (this.partial.length === 0) return;
    const rest = Buffer.concat([...this.partial, Buffer.from("\n")]);
    this.partial = [];
    this.partialBytes = 0;
    this.sink.writeBytes(rest);
  }

  private keep(piece: Buffer): void {
    this.partial.push(piece);
    this.partialBytes += piece.length;
    if (this.partialBytes > MAX_PARTIAL_BYTES) this.end();
  }
}
