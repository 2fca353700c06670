import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { close, isLoopbackOnly, listen } from "./listen.js";

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

describe("close", () => {
  async function started(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
    const server = createServer(handler);
    const bound = await listen(server, "127.0.0.1:0", "test");
    return { server, port: (bound as AddressInfo).port };
  }

  function connected(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(socket));
      socket.once("error", reject);
    });
  }

  it("cuts a connection holding a half-sent body at the deadline instead of waiting for it", async () => {
    const { server, port } = await started((req, res) => {
      req.on("data", () => undefined);
      req.on("end", () => res.end("done"));
    });
    const socket = await connected(port);
    socket.on("error", () => undefined);
    const closedByServer = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
    await new Promise((r) => setTimeout(r, 50));
    const begun = Date.now();
    const closed = await Promise.race([
      close(server, 200).then(() => true),
      new Promise((r) => setTimeout(() => r(false), 3000)),
    ]);
    socket.destroy();
    expect(closed).toBe(true);
    expect(Date.now() - begun).toBeLessThan(2000);
    await closedByServer;
  });

  it("answers a request that completes while closing with Connection: close, and closes that connection", async () => {
    const { server, port } = await started((req, res) => {
      req.on("data", () => undefined);
      req.on("end", () => res.end("done"));
    });
    const socket = await connected(port);
    socket.on("error", () => undefined);
    let response = "";
    socket.on("data", (d) => {
      response += d.toString("latin1");
    });
    const closedByServer = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
    socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
    await new Promise((r) => setTimeout(r, 50));
    const closing = close(server, 5_000);
    const wrote = Date.now();
    socket.write("cd");
    const at = await closedByServer;
    await closing;
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response.toLowerCase()).toContain("connection: close");
    expect(at - wrote).toBeLessThan(1000);
  });
});
