/**
 * The state files and the shutdown of a real `trustgate serve`: temporary files left by a process killed while
 * saving are removed at the next start; a SIGHUP that arrives during the shutdown grace period is ignored (it used to
 * kill the process before its final save).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuild } from "./support/process.js";
import { startReplica } from "./support/replica.js";
import { ID } from "./support/risk-server.js";

let dir: string;

beforeAll(async () => {
  requireBuild();
  dir = await mkdtemp(join(tmpdir(), "trustgate-state-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", ""]);
    child.on("exit", () => resolve(child.pid!));
  });
}

describe("state files", () => {
  it("removes temporary files a killed process left behind, at start", async () => {
    const [one, two] = [await deadPid(), await deadPid()];
    const leftovers = [`risk.json.tmp-${one}`, `risk.json.tmp-${two}-7`, `revocations.json.tmp-${one}-1`];
    for (const name of leftovers) await writeFile(join(dir, name), '{"format":');
    const config = {
      risk: { snapshotFile: join(dir, "risk.json") },
      revocations: { file: join(dir, "revocations.json") },
    };
    const r = await startReplica("files", dir, config);
    try {
      const names = await readdir(dir);
      for (const name of leftovers) expect(names).not.toContain(name);
      await r.logged("risk snapshot temporaries removed");
      await r.logged("revocation file temporaries removed");
      expect((await r.admin("POST", "/v1/revocations", { spiffeId: ID.api, reason: "x" })).status).toBe(200);
      const saved = JSON.parse(await readFile(join(dir, "revocations.json"), "utf8")) as { records: unknown[] };
      expect(saved.records).toHaveLength(1);
    } finally {
      expect(await r.stop()).toBe(0);
    }
    expect((await readdir(dir)).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });

  it("ignores SIGHUP during the shutdown grace period, then finishes its shutdown and exits 0", async () => {
    const r = await startReplica("hup", dir, { shutdownGraceSeconds: 3 });
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
    type HealthClient = grpc.Client & { Watch(request: { service: string }): grpc.ClientReadableStream<unknown> };
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
    };
    const client = new loaded.grpc.health.v1.Health(r.serve.grpcAddress, grpc.credentials.createInsecure());
    try {
      // An open Watch stream keeps the gRPC server in its grace period until the grace runs out.
      const watch = client.Watch({ service: "" });
      watch.on("error", () => undefined);
      const exit = new Promise<number | null>((resolve) => {
        watch.on("data", (m: { status: string }) => {
          if (m.status === "SERVING") void r.stop("SIGTERM").then(resolve);
          if (m.status === "NOT_SERVING") r.serve.child.kill("SIGHUP");
        });
      });
      const code = await exit;
      expect(r.serve.child.signalCode).toBeNull();
      expect(code).toBe(0);
      const events = r.logs().map((l) => l.event);
      expect(events).toContain("signal ignored");
      expect(events.indexOf("signal ignored")).toBeLessThan(events.indexOf("stopped"));
    } finally {
      client.close();
    }
  });
});
