import { describe, expect, it } from "vitest";
import { LineForwarder } from "./line-forwarder.js";

function forwarder() {
  const written: string[] = [];
  return { f: new LineForwarder({ writeBytes: (b: Buffer) => written.push(b.toString("utf8")) }), written };
}

describe("LineForwarder", () => {
  it("writes only whole lines, joining a line split across chunks, whatever its length", () => {
    const { f, written } = forwarder();
    const long = `{"a":"${"x".repeat(100_000)}"}\n`;
    const text = `first\n${long}third\n`;
    for (let i = 0; i < text.length; i += 4093) f.push(Buffer.from(text.slice(i, i + 4093)));
    expect(written.every((w) => w.endsWith("\n"))).toBe(true);
    expect(written.join("")).toBe(text);
  });

  it("keeps multi-byte characters intact across chunk boundaries", () => {
    const { f, written } = forwarder();
    const bytes = Buffer.from("héllo wörld ✓\n");
    for (let i = 0; i < bytes.length; i++) f.push(bytes.subarray(i, i + 1));
    expect(written.join("")).toBe("héllo wörld ✓\n");
  });

  it("ends a last line that has no newline when the other side closes", () => {
    const { f, written } = forwarder();
    f.push(Buffer.from("a\npartial"));
    expect(written).toEqual(["a\n"]);
    f.end();
    expect(written).toEqual(["a\n", "partial\n"]);
    f.end();
    expect(written).toHaveLength(2);
  });
});
