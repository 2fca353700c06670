/**
 * Helpers for tests of `trustgate serve --workers N` as a real process tree: a policy directory and workload
 * inventory with many workloads (one Falco alert per workload), gRPC clients that each hold a connection of their own
 * (the primary hands each new connection to the next worker), and finding out which worker a client's connection
 * landed on, from the decision log line of one of its Checks.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DECISION_ID_HEADER } from "../../src/extauthz/check-response.js";
import { CheckClient } from "../../src/grpc/check-client.js";
import { at, falcoJson, SHELL_IN_ORDER } from "./falco-alerts.js";
import { checkRequest } from "./fixtures.js";
import { type ServeProcess, type StdoutKind, startServe } from "./process.js";

export const FALCO_TOKEN = "workers-test-falco-token-0123";
export const ADMIN_TOKEN = "workers-test-admin-token-4567";
/** Workloads w0 … w(n-1) in namespace services, each with its own container name c<i>. */
export const WORKLOADS = 120;
export const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

export function workloadId(i: number): string {
  return `spiffe://cluster.local/ns/services/sa/w${i}`;
}

/** Mesh-wide: callers at high or critical Falco risk are refused. */
const DENY_RISKY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-risky-callers, namespace: istio-system}
spec:
  action: DENY
  rules:
    - when:
        - key: custom.falco_risk_score
          values: ["high", "critical"]
`;

/** A DENY on some paths: the reload test adds one. */
export function denyPaths(...paths: string[]): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gate, namespace: services}
spec:
  action: DENY
  rules:
    - to: [{operation: {paths: ${JSON.stringify(paths)}}}]
`;
}

export interface WorkerSetup {
  readonly dir: string;
  readonly policyDir: string;
  readonly env: Record<string, string>;
}

export async function workerSetup(): Promise<WorkerSetup> {
  const dir = await mkdtemp(join(tmpdir(), "trustgate-workers-"));
  const policyDir = join(dir, "policies");
  await mkdir(policyDir);
  await writeFile(join(policyDir, "risk.yaml"), DENY_RISKY);
  await writeFile(join(policyDir, "gate.yaml"), denyPaths("/blocked"));
  const workloads = Array.from(
    { length: WORKLOADS },
    (_, i) => `  - {name: w${i}, namespace: services, serviceAccount: w${i}, containers: [c${i}]}`,
  );
  await writeFile(join(dir, "workloads.yaml"), `workloads:\n${workloads.join("\n")}\n`);
  return {
    dir,
    policyDir,
    env: {
      TRUSTGATE_POLICY_DIR: policyDir,
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_WORKLOADS_FILE: join(dir, "workloads.yaml"),
      TRUSTGATE_TRUST_DOMAINS: "cluster.local",
      TRUSTGATE_FALCO_TOKEN: FALCO_TOKEN,
      TRUSTGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    },
  };
}

export function startWorkers(
  setup: WorkerSetup,
  workers = 2,
  env: Record<string, string> = {},
  stdout: StdoutKind = "socket",
): Promise<ServeProcess> {
  return startServe(["--workers", String(workers)], { ...setup.env, ...env }, stdout);
}

/** A Check from `caller` to the payment service on `path` (headers optional). */
export function call(caller: string, path = "/api/v1/items", headers?: Record<string, string>) {
  return checkRequest({ principal: caller, destinationPrincipal: PAYMENT, path, headers });
}

/** A client with a connection of its own (no subchannel shared with other clients of this process). */
export function ownConnection(serve: ServeProcess): CheckClient {
  return new CheckClient(serve.grpcAddress, { "grpc.use_local_subchannel_pool": 1 });
}

/** stdout's complete lines: the text after the last newline may be a line still being read. */
export function completeLines(serve: ServeProcess): string[] {
  const text = serve.output.stdout;
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n");
}

export function decisionLines(serve: ServeProcess): Array<Record<string, unknown>> {
  return completeLines(serve)
    .filter((l) => l.includes('"event":"decision"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function decisionIdOf(response: Awaited<ReturnType<CheckClient["check"]>>): string {
  const headers = response.okResponse?.headers ?? response.deniedResponse?.headers ?? [];
  return headers.find((h) => h.header.key === DECISION_ID_HEADER)?.header.value ?? "";
}

/** Which worker answered a client's Checks (its connection stays on that worker). */
export async function workerOf(serve: ServeProcess, client: CheckClient): Promise<number> {
  const id = decisionIdOf(await client.check(call(workloadId(0), "/probe")));
  return eventually(() => {
    const line = decisionLines(serve).find((l) => l.decision_id === id);
    return line === undefined ? undefined : Number(line.worker);
  }, `the decision line of ${id}`);
}

/** Opens clients until every worker has at least `each` of them; returns them by worker. */
export async function clientsByWorker(serve: ServeProcess, workers: number, each = 1) {
  const byWorker = new Map<number, CheckClient[]>();
  for (let opened = 0; opened < workers * each * 6; opened++) {
    const client = ownConnection(serve);
    const worker = await workerOf(serve, client);
    const list = byWorker.get(worker) ?? [];
    list.push(client);
    byWorker.set(worker, list);
    if (byWorker.size === workers && [...byWorker.values()].every((l) => l.length >= each)) return byWorker;
  }
  throw new Error(`connections did not spread over ${workers} workers: ${[...byWorker.keys()]}`);
}

export async function readyz(serve: ServeProcess): Promise<{
  status: string;
  policySet: { version: string } | null;
  workers: {
    desired: number;
    serving: number;
    restarts: number;
    workers: Array<{ id: number; pid: number; state: string; policyVersion: string; connections: number }>;
  };
}> {
  return (await fetch(`${serve.httpUrl}/readyz`)).json() as never;
}

export async function metricsText(serve: ServeProcess): Promise<string> {
  return (await fetch(`${serve.httpUrl}/metrics`)).text();
}

/** A Critical "Terminal shell in container" alert about workload `i`, as Falco posts it. */
export async function alertAbout(serve: ServeProcess, i: number): Promise<void> {
  const alert = at(SHELL_IN_ORDER, new Date().toISOString().replace(/Z$/, "000001Z"));
  const fields = { ...SHELL_IN_ORDER.output_fields, "container.name": `c${i}`, "k8s.pod.name": `w${i}-0` };
  const res = await fetch(`${serve.httpUrl}/v1/falco`, {
    method: "POST",
    headers: { authorization: `Bearer ${FALCO_TOKEN}`, "content-type": "application/json" },
    body: falcoJson({ ...alert, output_fields: fields }),
  });
  if (res.status !== 200) throw new Error(`alert not accepted: ${res.status} ${await res.text()}`);
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
