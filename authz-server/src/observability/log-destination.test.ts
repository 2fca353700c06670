import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { LogDestination } from "./log-destination.js";

function capture() {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { sink, text: () => Buffer.concat(chunks).toString("utf8"), chunks };
}

describe("LogDestination", () => {
  it("hands lines on in order, batched, at the end of the turn", async () => {
    const { sink, text, chunks } = capture();
    const d = new LogDestination(sink, { flushDelayMs: 0 });
    d.write("one ✓\n");
    d.writeBytes(Buffer.from("two\n"));
    d.write("three\n");
    expect(chunks).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe("one ✓\ntwo\nthree\n");
    expect(chunks).toHaveLength(1);
  });

  it("keeps every line whole across batches, including lines larger than a batch", () => {
    const { sink, text } = capture();
    const d = new LogDestination(sink, { flushDelayMs: 10_000 });
    const lines = Array.from({ length: 500 }, (_, i) => `${i}:${"é".repeat(i * 37)}\n`);
    lines.push(`huge:${"x".repeat(200_000)}\n`, "after\n");
    for (const l of lines) d.write(l);
    d.flushSync();
    expect(text()).toBe(lines.join(""));
  });

  it("writes through to a stream at once unless asked to batch", () => {
    const { sink, text } = capture();
    const d = new LogDestination(sink);
    d.write("now\n");
    expect(text()).toBe("now\n");
  });

  it("hands pino's lines on at the end of the turn, decision lines with the batch", async () => {
    const { sink, text } = capture();
    const d = new LogDestination(sink, { flushDelayMs: 10_000 });
    d.append("decision 1\n");
    d.write("warning\n");
    d.append("decision 2\n");
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe("decision 1\nwarning\ndecision 2\n");
    d.append("decision 3\n");
    await new Promise((r) => setImmediate(r));
    expect(text()).not.toContain("decision 3");
  });

  it("with a delay, waits for it (or a full batch)", async () => {
    const { sink, chunks } = capture();
    const d = new LogDestination(sink, { flushDelayMs: 30 });
    d.append("a\n");
    await new Promise((r) => setImmediate(r));
    expect(chunks).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(chunks).toHaveLength(1);
    d.append("b\n");
    await new Promise((r) => setTimeout(r, 60));
    expect(Buffer.concat(chunks).toString()).toBe("a\nb\n");
  });
});

describe("LogDestination on a shared output", () => {
  let dir = "";
  afterEach(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  it("reuses a batch once it is written, never before: a slow pipe reader gets every line intact and in order", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-destination-"));
    const path = join(dir, "fifo");
    execFileSync("mkfifo", [path]);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(path, constants.O_WRONLY);
    const d = new LogDestination(writeFd, { flushDelayMs: 0, shared: {} });
    const expected: string[] = [];
    let got = "";
    const buffer = Buffer.alloc(1 << 16);
    const readSome = () => {
      try {
        const n = readSync(readFd, buffer);
        got += buffer.toString("utf8", 0, n);
      } catch {
        // EAGAIN: nothing to read now
      }
    };
    try {
      // ~40 batches of 64 KiB against a pipe of 64 KiB read slowly: batches wait for the reader while new ones fill.
      for (let turn = 0; turn < 40; turn++) {
        for (let i = 0; i < 200; i++) {
          const line = `{"turn":${turn},"i":${i},"pad":"${String.fromCharCode(97 + ((turn + i) % 26)).repeat(250 + ((i * 7) % 200))}"}\n`;
          expected.push(line);
          d.write(line);
        }
        await new Promise((r) => setImmediate(r));
        readSome();
      }
      const all = expected.join("");
      const deadline = Date.now() + 10_000;
      while (got.length < all.length && Date.now() < deadline) {
        readSome();
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(got.length).toBe(all.length);
      expect(got === all).toBe(true);
      expect(d.droppedLines).toBe(0);
    } finally {
      d.shared?.close();
      closeSync(writeFd);
      closeSync(readFd);
    }
  });

  it("keeps the memory of its batches flat: written batches are used again", async () => {
    dir = mkdtempSync(join(tmpdir(), "log-destination-"));
    const fd = openSync(join(dir, "out"), "w");
    const d = new LogDestination(fd, { flushDelayMs: 0, shared: {} });
    try {
      const line = `${"x".repeat(999)}\n`;
      const before = process.memoryUsage().arrayBuffers;
      // 200 batches of 64 KiB (13 MB): without reuse each is a new ArrayBuffer until a garbage collection.
      for (let batch = 0; batch < 200; batch++) {
        for (let i = 0; i < 65; i++) d.write(line);
        await new Promise<void>((r) => d.flush(() => r()));
      }
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      expect(readFileSync(join(dir, "out"), "utf8")).toBe(line.repeat(200 * 65));
    } finally {
      d.shared?.close();
      closeSync(fd);
    }
  });
});
