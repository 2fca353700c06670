import { describe, expect, it } from "vitest";
import { formatRow, labelled, note, terminalWidth } from "./table.js";

const deny = {
  caller: "web",
  callee: "database",
  method: "POST",
  path: "/query",
  allowed: false,
  reason:
    'trustgate/default-deny: closest: data/database-allow-low-risk rule 0 failed on from[0].source.principals ("cluster.local/ns/frontend/sa/web")',
};

describe("demo table wrapping", () => {
  it("keeps a row on one line when it fits, or when there is no width", () => {
    const plain = formatRow({ color: false }, deny);
    expect(plain.split("\n")).toHaveLength(1);
    expect(plain).toMatch(/^web {7}→ database {2}POST \/query {17}DENY {6}trustgate\/default-deny: closest:/);
    expect(formatRow({ color: false, width: 400 }, deny)).toBe(plain);
  });

  it("wraps the reason at word boundaries under the REASON column, no line wider than the width", () => {
    const lines = formatRow({ color: false, width: 100 }, deny).split("\n");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {60}\S/);
    // Nothing lost or broken inside a word: the words read the same as the unwrapped reason.
    const words = lines.map((l, i) => (i === 0 ? l.slice(60) : l.trim())).join(" ");
    expect(words).toBe(deny.reason);
  });

  it("moves a note to the next line as a whole", () => {
    const lines = formatRow(
      { color: false, width: 120 },
      { ...deny, note: "21 ms after the alert was ingested" },
    ).split("\n");
    expect(lines.at(-1)).toBe(`${" ".repeat(60)}(21 ms after the alert was ingested)`);
  });

  it("keeps a word longer than the line whole rather than cutting it", () => {
    const long = { ...deny, reason: `x ${"y".repeat(80)} z` };
    const lines = formatRow({ color: false, width: 80 }, long).split("\n");
    expect(lines).toContain(`${" ".repeat(60)}${"y".repeat(80)}`);
  });

  it("wraps notes and labelled lines with their indent, and colours words without counting the codes", () => {
    const text =
      "payment's Wasm filter polls trustgate's revocation list every 1000 ms; order is on it while critical:";
    const lines = note({ color: false, width: 50 }, text).split("\n");
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(50);
      expect(line).toMatch(/^ {3}\S/);
    }
    const coloured = note({ color: true, width: 50 }, text).split("\n");
    expect(coloured).toHaveLength(lines.length);
    expect(coloured[0]).toContain("\u001b[36m");
    const summary = labelled(
      { color: false, width: 40 },
      "summary: ",
      "31 calls, 19 allowed, 12 denied, every decision as intended",
    );
    expect(
      summary
        .split("\n")
        .slice(1)
        .every((l) => l.startsWith(" ".repeat(9))),
    ).toBe(true);
  });

  it("takes the width from the terminal, else $COLUMNS, else none", () => {
    expect(terminalWidth({ isTTY: true, columns: 91 }, {})).toBe(91);
    expect(terminalWidth({ isTTY: false }, { COLUMNS: "120" })).toBe(120);
    expect(terminalWidth({ isTTY: false }, { COLUMNS: "wide" })).toBe(Number.POSITIVE_INFINITY);
    expect(terminalWidth({}, {})).toBe(Number.POSITIVE_INFINITY);
  });
});
