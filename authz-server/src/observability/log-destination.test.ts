import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
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
