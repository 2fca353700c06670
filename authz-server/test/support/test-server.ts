/**
 * Starts a real trustgate server in the test process (real gRPC and HTTP listeners on ephemeral ports) with
 * policies written to a temporary directory, and captures its log lines for assertions.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type RunningServer, startServer } from "../../src/app/trustgate-server.js";
import { createLogger } from "../../src/observability/logger.js";
import { testConfig } from "./config.js";
import { TS_WORKER_EXEC_ARGV } from "./ts-worker.js";

export interface TestServer {
  readonly server: RunningServer;
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly policyDir: string;
  readonly logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isMap(v) && isMap(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

export async function startTestServer(
  policies: Record<string, string>,
  config: Record<string, unknown> = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), "trustgate-test-"));
  const policyDir = join(dir, "policies");
  await mkdir(policyDir);
  for (const [name, text] of Object.entries(policies)) await writeFile(join(policyDir, name), text);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const base = {
    grpc: { addr: "127.0.0.1:0" },
    http: { addr: "127.0.0.1:0" },
    policies: { dir: policyDir, watch: false },
  };
  const resolved = testConfig(deepMerge(base, config));
  const server = await startServer(resolved, createLogger("info", sink), process.env, {
    policyWorker: { execArgv: TS_WORKER_EXEC_ARGV },
  });
  return {
    server,
    grpcAddress: `127.0.0.1:${server.grpcPort}`,
    httpUrl: `http://${server.httpAddress}`,
    policyDir,
    logs,
    async stop() {
      await server.stop("test finished");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
