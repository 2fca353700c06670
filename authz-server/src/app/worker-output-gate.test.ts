import { describe, expect, it } from "vitest";
import type { ToWorker } from "./cluster-messages.js";
import { WorkerOutputGate } from "./worker-output-gate.js";

function recorder() {
  const sent: ToWorker[] = [];
  return { sent, send: (m: ToWorker) => sent.push(m) };
}

describe("WorkerOutputGate", () => {
  it("lets the primary write once every worker holds, and releases them all", async () => {
    const gate = new WorkerOutputGate();
    const [a, b] = [recorder(), recorder()];
    gate.attach(1, a.send);
    gate.attach(2, b.send);
    let acquired = false;
    const acquiring = gate.acquire().then(() => {
      acquired = true;
    });
    expect(a.sent).toEqual([{ t: "trustgate:output-hold", seq: 1 }]);
    expect(gate.isHeld).toBe(true);
    gate.answered(1, 1);
    await new Promise((r) => setTimeout(r, 5));
    expect(acquired).toBe(false);
    gate.answered(2, 0); // an answer to an older hold does not count
    await new Promise((r) => setTimeout(r, 5));
    expect(acquired).toBe(false);
    gate.answered(2, 1);
    await acquiring;
    gate.release();
    expect(gate.isHeld).toBe(false);
    expect(b.sent.at(-1)).toEqual({ t: "trustgate:output-release" });
  });

  it("does not wait for a worker that exits or never answers", async () => {
    const gate = new WorkerOutputGate(50);
    gate.attach(1, recorder().send);
    gate.attach(2, recorder().send);
    const exiting = gate.acquire();
    gate.answered(1, 1);
    gate.detach(2);
    await exiting;
    gate.release();
    const started = Date.now();
    await gate.acquire(); // worker 1 stays silent this time
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
