import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startApp } from "./app-process.js";

describe("startApp", () => {
  let decoy: http.Server | null = null;
  afterEach(async () => {
    await new Promise<void>((resolve) => (decoy ? decoy.close(() => resolve()) : resolve()));
    decoy = null;
  });

  it("fails with EADDRINUSE when another process holds the port, even one answering /health", async () => {
    // Another mesh's app took the port between picking it and binding it: its /health answers 200 too.
    decoy = http.createServer((_req, res) => res.end('{"status":"ok","service":"order"}'));
    await new Promise<void>((resolve) => decoy!.listen(0, "127.0.0.1", resolve));
    const port = (decoy.address() as AddressInfo).port;
    await expect(startApp("order", port, 1, [])).rejects.toThrow(/EADDRINUSE/);
  });

  it("is ready once it bound its own port", async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const app = await startApp("order", port, 1, []);
    try {
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { service: string };
      expect(health.service).toBe("order");
    } finally {
      await app.stop();
    }
  });
});
