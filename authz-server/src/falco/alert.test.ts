import { describe, expect, it } from "vitest";
import {
  falcoJson,
  HOST_ALERT,
  METRICS_SNAPSHOT,
  SHELL_IN_ORDER,
  sidekickJson,
} from "../../test/support/falco-alerts.js";
import { parsePriority } from "../model/falco-priority.js";
import { validateAlert } from "./alert.js";
import { parseFalcoTime } from "./falco-time.js";
import { parseIngestBody } from "./ingest-body.js";

const bytes = (s: string) => new TextEncoder().encode(s);

function without(field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...SHELL_IN_ORDER };
  delete copy[field];
  return copy;
}

describe("Falco priorities", () => {
  it("accepts every Falco spelling in any case, and info for informational", () => {
    for (const [text, expected] of [
      ["Emergency", "emergency"],
      ["ALERT", "alert"],
      ["critical", "critical"],
      ["Error", "error"],
      ["WARNING", "warning"],
      ["Notice", "notice"],
      ["Informational", "informational"],
      ["info", "informational"],
      ["INFO", "informational"],
      ["Debug", "debug"],
    ] as const) {
      expect(parsePriority(text)).toBe(expected);
    }
  });

  it("refuses anything else", () => {
    for (const text of ["", "warn", "err", "crit", "severe", "informational ", "0"])
      expect(parsePriority(text)).toBeNull();
  });
});

describe("Falco times (RFC 3339)", () => {
  it("reads Falco's nanosecond times and Falcosidekick's trimmed ones", () => {
    const base = Date.UTC(2026, 10, 28, 10, 0, 0);
    expect(parseFalcoTime("2026-11-28T10:00:00.123456789Z")).toBe(base + 123);
    expect(parseFalcoTime("2026-11-28T10:00:00.1Z")).toBe(base + 100);
    expect(parseFalcoTime("2026-11-28T10:00:00Z")).toBe(base);
    expect(parseFalcoTime("2026-11-28T11:30:00.5+01:30")).toBe(base + 500);
    expect(parseFalcoTime("2026-11-28t10:00:00z")).toBe(base);
  });

  it("refuses malformed or impossible times", () => {
    for (const text of [
      "2026-11-28 10:00:00Z",
      "2026-11-28T10:00:00",
      "2026-11-28T10:00:00.1234567890Z",
      "2026-02-30T10:00:00Z",
      "2026-13-01T10:00:00Z",
      "2026-11-28T24:00:00Z",
      "2026-11-28T10:60:00Z",
      "2026-11-28T10:00:00+25:00",
      "1685022245478445995",
      "1969-12-31T23:59:59Z",
      "",
    ]) {
      expect(parseFalcoTime(text), text).toBeNull();
    }
    expect(parseFalcoTime("2024-02-29T00:00:00Z")).not.toBeNull();
  });
});

describe("validateAlert", () => {
  it("accepts Falco's alert and keeps what risk needs", () => {
    const result = validateAlert(JSON.parse(falcoJson(SHELL_IN_ORDER)));
    expect(result).toMatchObject({
      ok: true,
      alert: {
        rule: "Terminal shell in container",
        priority: "critical",
        time: "2026-11-28T10:00:00.123456789Z",
        timeMs: Date.UTC(2026, 10, 28, 10, 0, 0, 123),
        source: "syscall",
        hostname: "node-a",
        uuid: "",
        tags: SHELL_IN_ORDER.tags,
      },
    });
  });

  it("accepts old Falco alerts without source, hostname or tags, and internal ones without tags", () => {
    expect(validateAlert(without("source")).ok).toBe(true);
    expect(validateAlert(without("hostname")).ok).toBe(true);
    expect(validateAlert(without("tags")).ok).toBe(true);
    expect(validateAlert(METRICS_SNAPSHOT).ok).toBe(true);
    expect(validateAlert(HOST_ALERT).ok).toBe(true);
  });

  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["rule", without("rule"), "rule: is required"],
    ["rule", { ...SHELL_IN_ORDER, rule: "" }, "rule: must be a non-empty string"],
    ["rule", { ...SHELL_IN_ORDER, rule: 42 }, "rule: must be a non-empty string"],
    ["priority", without("priority"), "priority: is required"],
    ["priority", { ...SHELL_IN_ORDER, priority: "Severe" }, 'priority: "Severe" is not a Falco priority'],
    ["priority", { ...SHELL_IN_ORDER, priority: 2 }, "priority: must be a string"],
    ["time", without("time"), "time: is required"],
    ["time", { ...SHELL_IN_ORDER, time: 1795860000123 }, "time: must be an RFC 3339 string"],
    ["time", { ...SHELL_IN_ORDER, time: "yesterday" }, 'time: "yesterday" is not an RFC 3339 time'],
    ["output_fields", without("output_fields"), "output_fields: is required"],
    ["output_fields", { ...SHELL_IN_ORDER, output_fields: [] }, "output_fields: must be a JSON object"],
    ["output_fields", { ...SHELL_IN_ORDER, output_fields: null }, "output_fields: must be a JSON object"],
    ["output_fields", { ...SHELL_IN_ORDER, output_fields: "x" }, "output_fields: must be a JSON object"],
    ["tags", { ...SHELL_IN_ORDER, tags: "shell" }, "tags: must be an array of strings"],
    ["tags", { ...SHELL_IN_ORDER, tags: ["shell", 3] }, "tags: must be an array of strings"],
    ["source", { ...SHELL_IN_ORDER, source: 1 }, "source: must be a string"],
    ["hostname", { ...SHELL_IN_ORDER, hostname: ["a"] }, "hostname: must be a string"],
    ["uuid", { ...SHELL_IN_ORDER, uuid: 7 }, "uuid: must be a string"],
  ];
  for (const [field, value, message] of cases) {
    it(`refuses a bad ${field}: ${message}`, () => {
      const result = validateAlert(value);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.field).toBe(field);
        expect(result.error).toContain(message);
      }
    });
  }

  it("refuses non-objects", () => {
    for (const v of [null, [], "alert", 3]) expect(validateAlert(v)).toMatchObject({ ok: false, field: "(alert)" });
  });
});

describe("parseIngestBody", () => {
  it("reads one alert as Falco posts it (no trailing newline)", async () => {
    const result = await parseIngestBody(bytes(falcoJson(SHELL_IN_ORDER)));
    expect(result.ok && result.alerts.length).toBe(1);
  });

  it("reads a Falcosidekick payload with uuid and a trailing newline", async () => {
    const result = await parseIngestBody(bytes(sidekickJson(SHELL_IN_ORDER, "0b8a3f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")));
    expect(result.ok && result.alerts[0]!.uuid).toBe("0b8a3f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
  });

  it("reads a pretty-printed object", async () => {
    const result = await parseIngestBody(bytes(JSON.stringify(SHELL_IN_ORDER, null, 2)));
    expect(result.ok && result.alerts.length).toBe(1);
  });

  it("reads JSON Lines (with CRLF and blank lines), in order", async () => {
    const body = [falcoJson(SHELL_IN_ORDER), "", falcoJson(METRICS_SNAPSHOT), falcoJson(HOST_ALERT), ""].join("\r\n");
    const result = await parseIngestBody(bytes(body));
    expect(result.ok && result.alerts.map((a) => a.rule)).toEqual([
      "Terminal shell in container",
      "Falco internal: metrics snapshot",
      "Fileless execution via memfd_create",
    ]);
  });

  it("reads long JSON Lines bodies (parsed in slices)", async () => {
    const body = Array.from({ length: 1000 }, () => falcoJson(SHELL_IN_ORDER)).join("\n");
    const result = await parseIngestBody(bytes(body));
    expect(result.ok && result.alerts.length).toBe(1000);
  });

  it("refuses the whole batch when one line is bad, naming line and field", async () => {
    const body = [falcoJson(SHELL_IN_ORDER), falcoJson({ ...HOST_ALERT, priority: "loud" })].join("\n");
    expect(await parseIngestBody(bytes(body))).toMatchObject({ ok: false, field: "priority", line: 2 });
    const broken = [falcoJson(SHELL_IN_ORDER), "{not json"].join("\n");
    expect(await parseIngestBody(bytes(broken))).toMatchObject({ ok: false, field: "(json)", line: 2 });
  });

  it("refuses empty bodies, arrays and invalid UTF-8", async () => {
    expect(await parseIngestBody(bytes("  \n"))).toMatchObject({ ok: false, field: "(body)" });
    expect(await parseIngestBody(bytes(JSON.stringify([SHELL_IN_ORDER])))).toMatchObject({
      ok: false,
      error: expect.stringContaining("not an array"),
    });
    expect(await parseIngestBody(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({
      ok: false,
      error: "body is not valid UTF-8",
    });
  });
});
