import { describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent, outOfBounds, type SharedEvent } from "./shared-event.js";

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
      alertIds: ["falcosidekick:6f1c0e2a", "a2"],
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
      { k: "clear", o: "b", id: "c", sid: "spiffe://cluster.local/ns/a/sa/b", b: 1, a: "all" },
      { k: "clear", o: "b", id: "c", sid: "spiffe://cluster.local/ns/a/sa/b", b: 1, a: [""] },
      { ...valid, tx: "now" },
      { k: "heard", o: "a", at: "now" },
    ];
    for (const b of broken) expect(decodeEvent(typeof b === "string" ? b : JSON.stringify(b))).toBeNull();
  });

  it("reads a clear from an older replica (no alert ids) as naming nothing", () => {
    const old = { k: "clear", o: "b", id: "c", sid: "spiffe://cluster.local/ns/a/sa/b", b: 1 };
    expect(decodeEvent(JSON.stringify(old))).toMatchObject({ kind: "clear", alertIds: [] });
  });
});

describe("times of events read from the Redis stream", () => {
  const NOW = 1795860000000;
  const critical = (receivedMs: number): SharedEvent => ({
    kind: "alert",
    origin: "replica-a",
    alert: { ...(alert.kind === "alert" ? alert.alert : ({} as never)), eventMs: receivedMs - 5, receivedMs },
  });
  const read = (e: SharedEvent, sentMs: number, entryMs: number) =>
    decodeEvent(encodeEvent(e, sentMs), { entryMs, nowMs: NOW });

  it("an alert from a replica whose clock runs 10 s ahead lands on the receiver's clock, not in its future", () => {
    const ahead = NOW + 10_000;
    const got = read(critical(ahead - 20), ahead, NOW - 3);
    expect(got).toMatchObject({ alert: { receivedMs: NOW - 23, eventMs: NOW - 28 } });
  });

  it("an alert from a replica whose clock runs 11 minutes behind arrives fresh, not pre-decayed", () => {
    const behind = NOW - 660_000;
    const got = read(critical(behind - 20), behind, NOW - 3);
    expect(got).toMatchObject({ alert: { receivedMs: NOW - 23, eventMs: NOW - 28 } });
  });

  it("keeps the time an event spent queued; an entry time after now counts as now; revocations are untouched", () => {
    const queued = read(critical(NOW - 60_000), NOW, NOW);
    expect(queued).toMatchObject({ alert: { receivedMs: NOW - 60_000 } });
    expect(read({ kind: "heard", origin: "a", atMs: NOW + 5 }, NOW + 5, NOW + 999_999)).toMatchObject({ atMs: NOW });
    // An older replica's event (no send time) is taken as sent when it entered the stream.
    expect(decodeEvent(encodeEvent(critical(NOW - 700_000)), { entryMs: NOW - 1, nowMs: NOW })).toMatchObject({
      alert: { receivedMs: NOW - 1 },
    });
  });

  it("does not believe a sender clock a day or more off: its times stay as they are, and ahead is refused", () => {
    const years = NOW + 10 * 365 * 86_400_000;
    const got = read(critical(years), years, NOW - 3);
    expect(got).toMatchObject({ alert: { receivedMs: years } });
    expect(outOfBounds(got!, NOW)).toMatch(/future/);
  });
});
