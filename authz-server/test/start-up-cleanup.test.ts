/**
 * A start-up that fails half-way closes what it had already opened (policy watcher, Falco ingest listener, gRPC
 * listener), so `serve` can exit instead of idling with a watcher and a half-bound listener.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../src/app/trustgate-server.js";
import { createLogger } from "../src/observability/logger.js";
import { testConfig } from "./support/config.js";
import { freePort } from "./support/process.js";
import { TS_WORKER_EXEC_ARGV } from "./support/ts-worker.js";

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** How many listening sockets and file watchers this process holds. */
function handles(): { listeners: number; watchers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    listeners: info.filter((r) => r === "TCPServerWrap").length,
    watchers: info.filter((r) => r === "FSEventWrap" || r === "StatWatcher").length,
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-start-up-"));
  await writeFile(
    join(dir, "p.yaml"),
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec:\n  rules:\n  - {}\n",
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("start-up failure cleanup", () => {
  it("closes the watcher, the Falco ingest listener and the gRPC listener when the admin port is taken", async () => {
    const [grpcPort, ingestPort] = [await freePort(), await freePort()];
    const busy = await listenOn(0);
    const busyPort = (busy.address() as { port: number }).port;
    await new Promise((r) => setTimeout(r, 100));
    const before = handles();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    try {
      const config = testConfig({
        grpc: { addr: `127.0.0.1:${grpcPort}` },
        http: { addr: `127.0.0.1:${busyPort}` },
        policies: { dir, watch: true },
        falco: { token: "t", ingest: { addr: `127.0.0.1:${ingestPort}` } },
      });
      await expect(
        startServer(config, createLogger("info", sink), process.env, {
          policyWorker: { execArgv: TS_WORKER_EXEC_ARGV },
        }),
      ).rejects.toThrow(`cannot listen for admin HTTP on 127.0.0.1:${busyPort}: address already in use`);
      // Everything that was bound is free again, and nothing is left watching or listening.
      await close(await listenOn(grpcPort));
      await close(await listenOn(ingestPort));
      // Handles go away on their close callbacks: give them a moment.
      const deadline = Date.now() + 3000;
      while (JSON.stringify(handles()) !== JSON.stringify(before) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(handles()).toEqual(before);
    } finally {
      await close(busy);
    }
  });
});
