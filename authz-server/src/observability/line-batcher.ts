/**
 * Collects log lines written during one turn of the event loop and hands them to the destination as one string at
 * the end of that turn. Under load one turn serves many Checks, so the destination (and the write() syscall behind
 * it) is touched once per batch instead of once per decision; on a quiet server a line still goes out at once.
 */

export interface LineSink {
  write(text: string): unknown;
}

const MAX_BATCH_CHARS = 64 * 1024;

export class LineBatcher {
  private lines: string[] = [];
  private chars = 0;
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(private readonly sink: LineSink) {}

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= MAX_BATCH_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join("");
    this.lines = [];
    this.chars = 0;
    this.sink.write(text);
  }
}
