import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ATOMIC_WRITE_BYTES, canShareOutput, cutWholeLines, SharedOutput, sharedOutputKind } from "./shared-output.js";

const line = (tag: string, bytes: number) => `${tag}${"x".repeat(bytes - tag.length - 1)}\n`;

function cut(text: string, max = ATOMIC_WRITE_BYTES) {
  const pieces: string[] = [];
  const long: string[] = [];
  cutWholeLines(
    Buffer.from(text),
    max,
    (b) => pieces.push(b.toString()),
    (b) => long.push(b.toString()),
  );
  return { pieces, long };
}

describe("cutWholeLines", () => {
  it("keeps every piece within the atomic size and ending at a line's end, in order", () => {
    const lines = Array.from({ length: 50 }, (_, i) => line(`L${i}:`, 300 + i * 11));
    const { pieces, long } = cut(lines.join(""));
    expect(long).toEqual([]);
    expect(pieces.join("")).toBe(lines.join(""));
    for (const p of pieces) {
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(ATOMIC_WRITE_BYTES);
      expect(p.endsWith("\n")).toBe(true);
    }
    // Pieces are filled: fewer writes than lines.
    expect(pieces.length).toBeLessThan(lines.length / 4);
  });

  it("hands a line longer than the atomic size on alone, between the pieces before and after it", () => {
    const text = `${line("a", 100)}${line("big", 10_000)}${line("b", 100)}`;
    const { pieces, long } = cut(text);
    expect(long).toEqual([line("big", 10_000)]);
    expect(pieces).toEqual([line("a", 100), line("b", 100)]);
  });

  it("takes a line of exactly the atomic size as a piece", () => {
    expect(cut(line("e", ATOMIC_WRITE_BYTES)).pieces).toEqual([line("e", ATOMIC_WRITE_BYTES)]);
    expect(cut(line("e", ATOMIC_WRITE_BYTES + 1)).long).toEqual([line("e", ATOMIC_WRITE_BYTES + 1)]);
  });
});

/** A temporary directory and descriptors of each test, removed and closed after it. */
function perTest(prefix: string) {
  let dir = "";
  let fds: number[] = [];
  afterEach(() => {
    for (const fd of fds) closeSync(fd);
    fds = [];
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
    dir = "";
  });
  return {
    dir: () => {
      dir = mkdtempSync(join(tmpdir(), prefix));
      return dir;
    },
    keep: (...more: number[]) => {
      fds.push(...more);
    },
  };
}

describe("SharedOutput", () => {
  const temp = perTest("shared-output-");
  function file() {
    const path = join(temp.dir(), "out");
    const fd = openSync(path, "w");
    temp.keep(fd);
    return { fd, read: () => readFileSync(path, "utf8") };
  }

  // The pipe rules (4 KiB writes, long lines elsewhere) are checked on a file here: what was written is easy to read.
  it("writes every line in order; on a pipe, a worker's long lines go to the primary instead", async () => {
    const { fd, read } = file();
    const forwarded: string[] = [];
    const out = new SharedOutput({
      fd,
      kind: "pipe",
      maxQueuedBytes: 1 << 20,
      forwardLong: (l) => forwarded.push(l.toString()),
    });
    const short = Array.from({ length: 40 }, (_, i) => line(`s${i}`, 500));
    out.write(Buffer.from(short.slice(0, 20).join("") + line("long", 9000)));
    out.write(Buffer.from(short.slice(20).join("")));
    await out.idle();
    expect(read()).toBe(short.join(""));
    expect(forwarded).toEqual([line("long", 9000)]);
  });

  it("writes nothing while held and resumes on release", async () => {
    const { fd, read } = file();
    const out = new SharedOutput({ fd, maxQueuedBytes: 1 << 20 });
    out.write(Buffer.from(line("before", 200)));
    await out.hold();
    expect(read()).toBe(line("before", 200));
    out.write(Buffer.from(line("during", 200)));
    await new Promise((r) => setTimeout(r, 30));
    expect(read()).toBe(line("before", 200));
    out.release();
    await out.idle();
    expect(read()).toBe(line("before", 200) + line("during", 200));
  });

  it("forwards a copy of a long line and reports the chunk written once its own pieces are", async () => {
    const { fd, read } = file();
    const forwarded: Buffer[] = [];
    const out = new SharedOutput({ fd, kind: "pipe", maxQueuedBytes: 1 << 20, forwardLong: (l) => forwarded.push(l) });
    const chunk = Buffer.from(line("a", 100) + line("long", 9000) + line("b", 100));
    let written = 0;
    out.write(chunk, () => written++);
    await out.idle();
    expect(written).toBe(1);
    expect(read()).toBe(line("a", 100) + line("b", 100));
    // The chunk may now be reused (the destination does): the forwarded line must not change with it.
    chunk.fill(0x21);
    expect(forwarded.map((b) => b.toString())).toEqual([line("long", 9000)]);
  });

  it("on a file, writes a line of any length in place: nothing goes to the primary", async () => {
    const { fd, read } = file();
    const forwarded: string[] = [];
    const out = new SharedOutput({ fd, maxQueuedBytes: 1 << 20, forwardLong: (l) => forwarded.push(l.toString()) });
    const text = line("a", 100) + line("long", 70_000) + line("b", 100);
    out.write(Buffer.from(text));
    await out.idle();
    expect(read()).toBe(text);
    expect(forwarded).toEqual([]);
  });

  it("writes the primary's long pipe line whole between acquire and release of the gate", async () => {
    const { fd, read } = file();
    const events: string[] = [];
    const out = new SharedOutput({ fd, kind: "pipe", maxQueuedBytes: 1 << 20 });
    out.setGate({
      acquire: async () => {
        events.push(`acquire (written so far: ${read().length})`);
      },
      release: () => events.push(`release (written so far: ${read().length})`),
    });
    const text = line("a", 100) + line("long", 20_000) + line("b", 100);
    out.write(Buffer.from(text));
    await out.idle();
    expect(read()).toBe(text);
    expect(events).toEqual(["acquire (written so far: 100)", "release (written so far: 20100)"]);
  });

  it("drops and counts what goes beyond its queue bound, and what comes after its output is gone", async () => {
    const { fd } = file();
    const out = new SharedOutput({ fd, maxQueuedBytes: 1000 });
    await out.hold();
    for (const l of [line("a", 600), line("b", 600), line("c", 300)]) out.write(Buffer.from(l));
    expect(out.droppedLines).toBe(1);
    const gone = new SharedOutput({ fd: 987_654, maxQueuedBytes: 1 << 20 });
    gone.write(Buffer.from(line("x", 50) + line("y", 50)));
    await gone.idle();
    gone.write(Buffer.from(line("z", 50)));
    expect(gone.droppedLines).toBe(3);
  });
});

describe("SharedOutput on a pipe", () => {
  const temp = perTest("shared-output-pipe-");
  function pipe() {
    const path = join(temp.dir(), "fifo");
    execFileSync("mkfifo", [path]);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(path, constants.O_WRONLY);
    temp.keep(writeFd, readFd);
    const chunk = Buffer.alloc(1 << 16);
    /** What the pipe holds now (never waits). */
    const readNow = () => {
      let text = "";
      for (;;) {
        try {
          const n = readSync(readFd, chunk);
          if (n === 0) return text;
          text += chunk.toString("utf8", 0, n);
        } catch {
          return text; // EAGAIN: empty
        }
      }
    };
    return { fd: writeFd, readNow };
  }

  it("writes from the calling thread while the pipe has room, and the rest through the thread pool, in order", async () => {
    const { fd, readNow } = pipe();
    const out = new SharedOutput({ fd, maxQueuedBytes: 1 << 22 });
    try {
      const first = Array.from({ length: 30 }, (_, i) => line(`f${i}`, 300)).join("");
      out.write(Buffer.from(first));
      // Nothing left to a thread: written before write() returned.
      expect(out.pendingBytes).toBe(0);
      expect(readNow()).toBe(first);

      // More than the pipe holds (64 KiB on Linux): the pieces that do not fit wait for the reader.
      const lines = Array.from({ length: 400 }, (_, i) => line(`s${i}:`, 400 + ((i * 37) % 3000)));
      const second = lines.join("");
      out.write(Buffer.from(second));
      expect(out.pendingBytes).toBeGreaterThan(0);
      let got = readNow();
      const deadline = Date.now() + 5000;
      while (got.length < second.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
        got += readNow();
      }
      await out.idle();
      got += readNow();
      expect(got).toBe(second);
    } finally {
      out.close();
    }
  });

  it("opens one more descriptor for a pipe (closed by close()) and none for a device", () => {
    const { fd } = pipe();
    expect(sharedOutputKind(fd)).toBe("pipe");
    const openNow = () => readdirSync("/proc/self/fd").length;
    const before = openNow();
    const out = new SharedOutput({ fd, maxQueuedBytes: 1 << 20 });
    expect(openNow()).toBe(before + 1);
    out.close();
    expect(openNow()).toBe(before);
    const nullFd = openSync("/dev/null", "w");
    temp.keep(nullFd);
    const withNull = openNow();
    new SharedOutput({ fd: nullFd, maxQueuedBytes: 1 << 20 }).close();
    expect(openNow()).toBe(withNull);
  });
});

describe("canShareOutput", () => {
  it("says yes for a pipe, a file and a character device, no for a socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "share-"));
    const fileFd = openSync(join(dir, "f"), "w");
    const nullFd = openSync("/dev/null", "w");
    const server = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    try {
      expect(canShareOutput(fileFd)).toBe(true);
      expect(canShareOutput(nullFd)).toBe(true);
      expect(sharedOutputKind(fileFd)).toBe("file");
      expect(sharedOutputKind(nullFd)).toBe("device");
      expect(canShareOutput((socket as unknown as { _handle: { fd: number } })._handle.fd)).toBe(false);
      expect(canShareOutput(987_654)).toBe(false);
    } finally {
      socket.destroy();
      server.close();
      closeSync(fileFd);
      closeSync(nullFd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
