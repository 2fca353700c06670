/**
 * Helpers for the state-consistency probes: a trustgate replica as a real `trustgate serve` process with its own
 * configuration file and environment (so a probe can skew its clock), Falco alerts about the example mesh's workloads,
 * operator calls, Checks over gRPC, and polling with a deadline.
 */
import { fileURLToPath } from "node:url";
import { at, falcoJson, SHELL_IN_ORDER } from "../../authz-server/test/support/falco-alerts.js";
import { type Replica, startReplica } from "../../authz-server/test/support/replica.js";
import {
  ADMIN_TOKEN,
  DENY_RISKY_CALLERS,
  FALCO_TOKEN,
  falcoNow,
  ID,
} from "../../authz-server/test/support/risk-server.js";

export { ADMIN_TOKEN, DENY_RISKY_CALLERS, FALCO_TOKEN, falcoNow, ID };

export type Workload = keyof typeof ID;

/** A module that shifts this process's clock (Date) by SKEW_MS: `NODE_OPTIONS=--import <it>`. */
export const SKEW_CLOCK = fileURLToPath(new URL("./skew-clock.mjs", import.meta.url));

/** A replica (authz-server/test/support/replica.ts) with operator calls by workload name. */
export interface Node extends Replica {
  revoke(who: Workload, reason?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  lift(who: Workload): Promise<{ status: number; body: Record<string, unknown> }>;
  clear(who: Workload): Promise<{ status: number; body: Record<string, unknown> }>;
  post(body: string): Promise<{ status: number; text: string }>;
}

/** Starts a one-process replica (`workers: 1`) with `env` added; DENY_RISKY_CALLERS unless `policies` says. */
export async function startNode(
  name: string,
  dir: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  policies = DENY_RISKY_CALLERS,
): Promise<Node> {
  const replica = await startReplica(name, dir, { workers: 1, ...config }, policies, env);
  const admin = replica.admin.bind(replica);
  return {
    ...replica,
    revoke: (who, reason = "probe") => admin("POST", "/v1/revocations", { spiffeId: ID[who], reason, by: name }),
    lift: (who) => admin("DELETE", `/v1/revocations?spiffeId=${encodeURIComponent(ID[who])}&by=${name}`),
    clear: (who) => admin("DELETE", `/v1/risk?id=${encodeURIComponent(ID[who])}`),
    async post(body) {
      const res = await fetch(`${replica.httpUrl}/v1/falco`, {
        method: "POST",
        headers: { authorization: `Bearer ${FALCO_TOKEN}`, "content-type": "application/json" },
        body,
      });
      return { status: res.status, text: await res.text() };
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
