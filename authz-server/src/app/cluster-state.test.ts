import { describe, expect, it } from "vitest";
import type { ToWorker } from "./cluster-messages.js";
import { StateHub, type StateTarget } from "./cluster-state.js";

class Target implements StateTarget {
  readonly received: Extract<ToWorker, { t: "trustgate:state" }>[] = [];
  send(message: ToWorker): void {
    if (message.t === "trustgate:state") this.received.push(message);
  }
  get lastSeq(): number {
    return this.received.at(-1)?.seq ?? 0;
  }
}

function hubWithRevocations(): StateHub {
  const hub = new StateHub();
  hub.register("revocations", () => []);
  return hub;
}

const record = { kind: "spiffeId", subject: "spiffe://cluster.local/ns/a/sa/b" } as never;

describe("StateHub.settled", () => {
  it("resolves at once without workers", async () => {
    const hub = hubWithRevocations();
    hub.event("revocations", record);
    await expect(hub.settled(10_000)).resolves.toBeUndefined();
  });

  it("sends the queued events at once and waits until every worker has applied them", async () => {
    const hub = hubWithRevocations();
    const [a, b] = [new Target(), new Target()];
    hub.attach(a);
    hub.attach(b);
    hub.acknowledged(a, a.lastSeq);
    hub.acknowledged(b, b.lastSeq);
    hub.event("revocations", record);
    let done = false;
    const settled = hub.settled(10_000).then(() => {
      done = true;
    });
    // The event went out with settled(), not at the end of the turn.
    expect(a.received.at(-1)?.events).toHaveLength(1);
    hub.acknowledged(a, a.lastSeq);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    // An older acknowledgement does not count.
    hub.acknowledged(b, b.lastSeq - 1);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    hub.acknowledged(b, b.lastSeq);
    await settled;
    expect(done).toBe(true);
  });

  it("does not wait for a worker that went away, nor longer than the timeout", async () => {
    const hub = hubWithRevocations();
    const [a, b] = [new Target(), new Target()];
    hub.attach(a);
    hub.attach(b);
    hub.event("revocations", record);
    const first = hub.settled(10_000);
    hub.acknowledged(a, a.lastSeq);
    hub.detach(b);
    await expect(first).resolves.toBeUndefined();

    hub.event("revocations", record);
    const started = performance.now();
    await hub.settled(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    // The timed-out wait is gone: a later acknowledgement has nothing left to wake.
    expect((hub as unknown as { waiters: unknown[] }).waiters).toHaveLength(0);
  });
});
