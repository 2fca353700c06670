import { describe, expect, it } from "vitest";
import { AfterResponse } from "./after-response.js";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("AfterResponse", () => {
  it("runs on the second check phase, not the first (grpc-js sends a unary call's status one turn after its message)", async () => {
    let runs = 0;
    const later = new AfterResponse(() => runs++);
    later.request();
    expect(runs).toBe(0);
    await turn(); // queued after the first hop: runs in the same check phase as the first hop, before the second
    expect(runs).toBe(0);
    await turn();
    expect(runs).toBe(1);
  });

  it("makes one run of everything asked for in a turn, and runs again when asked again", async () => {
    let runs = 0;
    const later = new AfterResponse(() => runs++);
    for (let i = 0; i < 5; i++) later.request();
    await turn();
    await turn();
    expect(runs).toBe(1);
    later.request();
    await turn();
    await turn();
    expect(runs).toBe(2);
  });
});
