import { describe, expect, it } from "vitest";
import { isLoopbackOnly } from "./listen.js";

describe("isLoopbackOnly", () => {
  it("is true for loopback hosts and unix sockets only", () => {
    for (const a of [
      "127.0.0.1:9192",
      "127.1.2.3:1",
      "[::1]:9192",
      "localhost:9192",
      "LOCALHOST:1",
      "unix:/run/t.sock",
    ])
      expect(isLoopbackOnly(a), a).toBe(true);
    for (const a of ["0.0.0.0:9192", ":9192", "[::]:9192", "10.0.0.5:9192", "127.0.0.1.evil:1", "nonsense"])
      expect(isLoopbackOnly(a), a).toBe(false);
  });
});
