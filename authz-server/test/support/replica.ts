/**
 * A trustgate replica as a real `trustgate serve` process: its own configuration file (written into `dir`, so a
 * restart reuses it and its state files), the example inventory with static mapping, the admin and Falco tokens, and
 * helpers to revoke, read the revocation list, post alerts and send Checks over gRPC.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CheckClient } from "../../src/grpc/check-client.js";
import { checkRequest } from "./fixtures.js";
import { type ServeProcess, startServe } from "./process.js";
import { ADMIN_TOKEN, FALCO_TOKEN, ID, INVENTORY } from "./risk-server.js";

export interface Replica {
  readonly name: string;
  readonly serve: ServeProcess;
  readonly httpUrl: string;
  /** The JSON log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  /** Waits (up to 5 s: log lines are written in batches) for a log line with this event. */
  logged(event: string): Promise<Record<string, unknown>>;
  /** A Check from `principal` to payment (`path` default /api/v1/items). */
  check(principal: string, path?: string): Promise<{ allowed: boolean; reason: string }>;
  revocations(etag?: string): Promise<{ status: number; etag: string; body: string }>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  postAlerts(body: string): Promise<number>;
  metric(name: string): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Writes `<dir>/<name>.yaml` and starts the replica with `env` added (e.g. a clock skew); state files named in `config`
 * stay where they are. `http` and `falco` in `config` are merged over the tokens, everything else replaces.
 */
export async function startReplica(
  name: string,
  dir: string,
  config: Record<string, unknown>,
  policies = "",
  env: Record<string, string> = {},
): Promise<Replica> {
  const policyDir = join(dir, `${name}-policies`);
  await mkdir(policyDir, { recursive: true });
  if (policies !== "") await writeFile(join(policyDir, "policies.yaml"), policies);
  const inventory = join(dir, "workloads.yaml");
  await writeFile(inventory, INVENTORY);
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    JSON.stringify({
      policies: { dir: policyDir, watch: false },
      identity: { trustDomains: ["cluster.local"] },
      workloads: { file: inventory },
      log: { decisions: "none" },
      shutdownGraceSeconds: 2,
      ...config,
      http: { adminToken: ADMIN_TOKEN, ...((config.http as object) ?? {}) },
      falco: { token: FALCO_TOKEN, ...((config.falco as object) ?? {}) },
    }),
  );
  const serve = await startServe(["--config", file], env);
  const client = new CheckClient(serve.grpcAddress);
  const httpUrl = serve.httpUrl;
  // Complete lines only: the last one may still be arriving.
  const logs = () =>
    serve.output.stdout
      .split("\n")
      .slice(0, -1)
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    name,
    serve,
    httpUrl,
    logs,
    async logged(event) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const line = logs().find((l) => l.event === event);
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`${name} did not log "${event}" within 5 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async check(principal, path = "/api/v1/items") {
      const response = await client.check(
        checkRequest({ principal, destinationPrincipal: ID.payment, labels: { app: "payment" }, path }),
      );
      const body = response.deniedResponse?.body;
      return {
        allowed: response.status.code === 0,
        reason: body ? ((JSON.parse(body) as { reason?: string }).reason ?? "") : "",
      };
    },
    async revocations(etag) {
      const res = await fetch(`${httpUrl}/v1/revocations`, { headers: etag ? { "if-none-match": etag } : {} });
      return { status: res.status, etag: res.headers.get("etag") ?? "", body: await res.text() };
    },
    async admin(method, path, body) {
      const res = await fetch(`${httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async postAlerts(body) {
      const res = await fetch(`${httpUrl}/v1/falco`, {
        method: "POST",
        headers: { authorization: `Bearer ${FALCO_TOKEN}`, "content-type": "application/json" },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    },
    async metric(metricName) {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const escaped = metricName.replace(/[{}"]/g, (c) => `\\${c}`);
      const m = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : null;
    },
    async stop(signal) {
      client.close();
      return serve.stop(signal);
    },
  };
}
