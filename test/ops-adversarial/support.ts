/**
 * Shared helpers of the operations-surface probes: policies, deadline polling, raw sockets, process memory.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const WEB = "spiffe://cluster.local/ns/frontend/sa/web";
export const STORE = "spiffe://cluster.local/ns/shop/sa/store";
export const ADMIN_TOKEN = "ops-adversarial-admin-token-0123456789";
export const FALCO_TOKEN = "ops-adversarial-falco-token-0123456789";

export const POLICIES: Record<string, string> = {
  "baseline.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-baseline, namespace: istio-system}
spec:
  action: DENY
  rules:
    - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
    - when: [{key: custom.falco_risk_score, values: ["high", "critical"]}]
`,
  "shop.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-shop, namespace: shop}
spec:
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/frontend/sa/web"]}}]
`,
};

export const WORKLOADS = `trustDomain: cluster.local
workloads:
  - name: web
    namespace: frontend
    serviceAccount: web
    containers: [web]
  - name: store
    namespace: shop
    serviceAccount: store
    containers: [store]
`;

/** A temporary directory with the policies (and a workload inventory) written out, for `trustgate serve`. */
export async function policyDir(): Promise<{
  dir: string;
  policies: string;
  workloads: string;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "tg-ops-adv-"));
  const policies = join(dir, "policies");
  await mkdir(policies);
  for (const [name, text] of Object.entries(POLICIES)) await writeFile(join(policies, name), text);
  const workloads = join(dir, "workloads.yaml");
  await writeFile(workloads, WORKLOADS);
  return { dir, policies, workloads, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** A raw TCP connection to an HTTP listener, to send exactly the bytes given. */
export function openRaw(url: string): Promise<Socket> {
  const { host, port } = hostPort(url);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Sends `text` on a fresh connection and collects what comes back until the server closes it or `waitMs` passes. */
export async function rawExchange(
  url: string,
  text: string | Buffer,
  waitMs = 2000,
): Promise<{ response: string; closedByServer: boolean }> {
  const socket = await openRaw(url);
  let response = "";
  socket.on("data", (d) => {
    response += d.toString("latin1");
  });
  socket.on("error", () => undefined);
  const closed = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  socket.write(text);
  const closedByServer = await Promise.race([closed, sleep(waitMs).then(() => false)]);
  socket.destroy();
  return { response, closedByServer };
}

export function statusOf(response: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return m ? Number(m[1]) : 0;
}

/** The value of one Prometheus sample (first match), or null. */
export function sample(text: string, pattern: RegExp): number | null {
  const m = pattern.exec(text);
  return m ? Number(m[1]) : null;
}
