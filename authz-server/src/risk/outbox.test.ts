import { describe, expect, it } from "vitest";
import type { FalcoPriority } from "../model/risk-view.js";
import { Outbox } from "./outbox.js";
import type { SharedEvent } from "./shared-event.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";

function alert(id: string, priority: FalcoPriority): SharedEvent {
  return {
    kind: "alert",
    origin: "a",
    alert: { id, spiffeId: ORDER, rule: "r", priority, time: "t", eventMs: 1, receivedMs: 1, weight: 4, dedupKey: id },
  };
}

const ids = (events: SharedEvent[]) => events.map((e) => (e.kind === "alert" ? e.alert.id : e.kind));

describe("the outbox of a replica cut off from Redis", () => {
  it("keeps a Critical alert and a clear taken first through a flood of Notices beyond the bound", () => {
    const outbox = new Outbox(10, 100);
    outbox.push(alert("critical-1", "critical"));
    outbox.push({ kind: "clear", origin: "a", id: "c1", spiffeId: ORDER, beforeMs: 1, alertIds: [] });
    const dropped: SharedEvent[] = [];
    for (let i = 0; i < 1_000; i++) {
      const d = outbox.push(alert(`notice-${i}`, "notice"));
      if (d !== null) dropped.push(d);
    }
    expect(dropped).toHaveLength(900);
    expect(ids(dropped).every((id) => id.startsWith("notice-"))).toBe(true);
    const batch = outbox.take(3);
    expect(ids(batch)).toEqual(["critical-1", "clear", "notice-900"]);
    // Not published: back at the front, in order.
    outbox.putBack(batch);
    expect(ids(outbox.take(2))).toEqual(["critical-1", "clear"]);
    expect(outbox.size).toBe(100);
  });

  it("coalesces heartbeats into the latest, sent after the alerts", () => {
    const outbox = new Outbox(10, 10);
    for (let at = 1; at <= 5; at++) expect(outbox.push({ kind: "heard", origin: "a", atMs: at })).toBeNull();
    outbox.push(alert("n", "notice"));
    expect(outbox.size).toBe(2);
    expect(outbox.take(10)).toEqual([alert("n", "notice"), { kind: "heard", origin: "a", atMs: 5 }]);
  });
});
