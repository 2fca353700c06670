/**
 * Helpers for the state-consistency probes: a trustgate replica as a real `trustgate serve` process with its own
 * configuration file and environment (so a probe can skew its clock), Falco alerts about the example mesh's workloads,
 * operator calls, Checks over gRPC, and polling with a deadline.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { at, falcoJson, SHELL_IN_ORDER } from "../../authz-server/test/support/falco-alerts.js";
import { checkRequest } from "../../authz-server/test/support/fixtures.js";
import { type ServeProcess, startServe } from "../../authz-server/test/support/process.js";
import {
  ADMIN_TOKEN,
  DENY_RISKY_CALLERS,
  FALCO_TOKEN,
  falcoNow,
  ID,
  INVENTORY,
} from "../../authz-server/test/support/risk-server.js";

export { ADMIN_TOKEN, DENY_RISKY_CALLERS, FALCO_TOKEN, falcoNow, ID };

export type Workload = keyof typeof ID;

/** A module that shifts this process's clock (Date) by SKEW_MS: `NODE_OPTIONS=--import <it>`. */
export const SKEW_CLOCK = fileURLToPath(new URL("./skew-clock.mjs", import.meta.url));

export interface Node {
  readonly name: string;
  readonly serve: ServeProcess;
  readonly httpUrl: string;
  logs(): Array<Record<string, unknown>>;
  check(principal: string, path?: string): Promise<{ allowed: boolean; reason: string }>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  revoke(who: Workload, reason?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  lift(who: Workload): Promise<{ status: number; body: Record<string, unknown> }>;
  clear(who: Workload): Promise<{ status: number; body: Record<string, unknown> }>;
  post(body: string): Promise<{ status: number; text: string }>;
  metric(name: string): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Writes `<dir>/<name>.yaml` (JSON is YAML) and starts `trustgate serve --config` with `env` added. */
export async function startNode(
  name: string,
  dir: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  policies = DENY_RISKY_CALLERS,
): Promise<Node> {
  const policyDir = join(dir, `${name}-policies`);
  await mkdir(policyDir, { recursive: true });
  await writeFile(join(policyDir, "policies.yaml"), policies);
  const inventory = join(dir, "workloads.yaml");
  await writeFile(inventory, INVENTORY);
  const file = join(dir, `${name}.yaml`);
  const falco = (config.falco ?? {}) as Record<string, unknown>;
  await writeFile(
    file,
    JSON.stringify({
      workers: 1,
      policies: { dir: policyDir, watch: false },
      identity: { trustDomains: ["cluster.local"] },
      workloads: { file: inventory },
      log: { decisions: "none" },
      shutdownGraceSeconds: 2,
      ...config,
      http: { adminToken: ADMIN_TOKEN, ...((config.http as object) ?? {}) },
      falco: { token: FALCO_TOKEN, ...falco },
    }),
  );
  const serve = await startServe(["--config", file], env);
  const client = new CheckClient(serve.grpcAddress);
  const httpUrl = serve.httpUrl;
  const logs = () =>
    serve.output.stdout
      .split("\n")
      .slice(0, -1)
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return {
    name,
    serve,
    httpUrl,
    logs,
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
    admin,
    revoke: (who, reason = "probe") => admin("POST", "/v1/revocations", { spiffeId: ID[who], reason, by: name }),
    lift: (who) => admin("DELETE", `/v1/revocations?spiffeId=${encodeURIComponent(ID[who])}&by=${name}`),
    clear: (who) => admin("DELETE", `/v1/risk?id=${encodeURIComponent(ID[who])}`),
    async post(body) {
      const res = await fetch(`${httpUrl}/v1/falco`, {
        method: "POST",
        headers: { authorization: `Bearer ${FALCO_TOKEN}`, "content-type": "application/json" },
        body,
      });
      return { status: res.status, text: await res.text() };
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

/** A Falco alert of `priority` about workload `who` (its container in its namespace), stamped now (Falco's clock). */
export function alertAbout(who: Workload, priority = "Critical", time = falcoNow()): string {
  const namespace = ID[who].split("/")[4];
  return falcoJson(
    at(SHELL_IN_ORDER, time, {
      priority,
      output_fields: {
        ...SHELL_IN_ORDER.output_fields,
        "container.name": who,
        "container.id": `${who}0000001`,
        "k8s.ns.name": namespace,
        "k8s.pod.name": `${who}-0`,
      },
    }),
  );
}

export async function redisConnected(n: Node): Promise<boolean> {
  return (await n.metric("trustgate_risk_redis_connected")) === 1;
}

/** Polls `probe` until `ok`, or throws after `ms` naming `what` and the last value seen. */
export async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Samples `probe` for `ms` and returns every value seen (to show a state that must hold, holds). */
export async function holdsFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T | null> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (!ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}
