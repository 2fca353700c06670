import { describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent, type SharedEvent } from "./shared-event.js";

const alert: SharedEvent = {
  kind: "alert",
  origin: "replica-a",
  alert: {
    id: "falcosidekick:6f1c0e2a",
    spiffeId: "spiffe://cluster.local/ns/services/sa/order",
    rule: "Terminal shell in container",
    priority: "critical",
    time: "2026-11-28T10:00:00.123456789Z",
    eventMs: 1795860000123,
    receivedMs: 1795860000200,
    weight: 50,
    dedupKey: "Terminal shell in container\u0000node-a\u00005f1e2d3c4b5a",
  },
};

describe("events shared between replicas", () => {
  it("round-trips alerts, clears and heartbeats", () => {
    const clear: SharedEvent = {
      kind: "clear",
      origin: "replica-b",
      id: "clear:1",
      spiffeId: "spiffe://cluster.local/ns/services/sa/order",
      beforeMs: 1795860001000,
    };
    const heard: SharedEvent = { kind: "heard", origin: "replica-a", atMs: 1795860002000 };
    for (const e of [alert, clear, heard]) expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it("drops anything malformed instead of trusting what is in Redis", () => {
    const valid = JSON.parse(encodeEvent(alert)) as Record<string, unknown>;
    const broken: unknown[] = [
      "not json",
      "null",
      "[]",
      { ...valid, k: "promote" },
      { ...valid, o: "" },
      { ...valid, sid: "spiffe://cluster.local/ns/../sa/x" },
      { ...valid, sid: "order" },
      { ...valid, p: "high" },
      { ...valid, w: -1 },
      { ...valid, w: "50" },
      { ...valid, ev: null },
      { ...valid, r: "" },
      { k: "clear", o: "b", id: "c", sid: "spiffe://cluster.local/ns/a/sa/b" },
      { k: "heard", o: "a", at: "now" },
    ];
    for (const b of broken) expect(decodeEvent(typeof b === "string" ? b : JSON.stringify(b))).toBeNull();
  });
});
