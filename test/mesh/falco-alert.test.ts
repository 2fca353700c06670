import { describe, expect, it } from "vitest";
import { falcoTime, terminalShellAlert } from "./falco-alert.js";

describe("Falco alerts in Falco's own JSON form", () => {
  it("writes RFC 3339 nanosecond times and evt.time as exact integer nanoseconds", () => {
    expect(falcoTime(Date.UTC(2026, 10, 28, 10, 0, 0, 123))).toEqual({
      rfc3339: "2026-11-28T10:00:00.123000000Z",
      nanos: "1795860000123000000",
    });
    const fractional = falcoTime(Date.UTC(2026, 10, 28, 10, 0, 0, 123) + 0.25);
    expect(fractional.rfc3339).toBe("2026-11-28T10:00:00.123250000Z");
    expect(fractional.nanos).toBe("1795860000123250000");
  });

  it("sorts keys, has no whitespace between tokens, and keeps evt.time beyond the safe integer range intact", () => {
    const alert = terminalShellAlert("order", Date.UTC(2026, 10, 28, 10, 0, 0, 123));
    expect(alert.json).toMatch(/^\{"hostname":"node-a","output":"10:00:00\.123000000: Critical A shell was spawned/);
    expect(alert.json).toContain('"evt.time":1795860000123000000,');
    const parsed = JSON.parse(alert.json) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([
      "hostname",
      "output",
      "output_fields",
      "priority",
      "rule",
      "source",
      "tags",
      "time",
    ]);
    expect(parsed).toMatchObject({
      priority: "Critical",
      rule: "Terminal shell in container",
      time: "2026-11-28T10:00:00.123000000Z",
      output_fields: { "container.name": "order", "proc.cmdline": "sh -i", "k8s.ns.name": null },
    });
  });
});
