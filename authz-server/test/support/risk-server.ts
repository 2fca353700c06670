/**
 * Helpers for tests that run a real trustgate server with Falco ingest: the example mesh's workload inventory (for the
 * static mapping), runtime-risk policies, posting alerts over HTTP, and Checks over gRPC.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckClient } from "../../src/grpc/check-client.js";
import { checkRequest } from "./fixtures.js";
import { startTestServer, type TestServer } from "./test-server.js";

export const FALCO_TOKEN = "falco-test-token-0123456789";
export const ADMIN_TOKEN = "admin-test-token-9876543210";

export const ID = {
  web: "spiffe://cluster.local/ns/frontend/sa/web",
  api: "spiffe://cluster.local/ns/services/sa/api",
  order: "spiffe://cluster.local/ns/services/sa/order",
  payment: "spiffe://cluster.local/ns/services/sa/payment",
  billing: "spiffe://cluster.local/ns/services/sa/billing",
  database: "spiffe://cluster.local/ns/data/sa/database",
  cache: "spiffe://cluster.local/ns/data/sa/cache",
} as const;

export const INVENTORY = `workloads:
${Object.entries(ID)
  .map(([name, id]) => {
    const ns = id.split("/")[4];
    return `  - {name: ${name}, namespace: ${ns}, serviceAccount: ${name}, labels: {app: ${name}}, containers: [${name}, envoy-${name}], podPrefixes: [${name}-]}`;
  })
  .join("\n")}
`;

/** Mesh-wide: callers at high or critical risk are refused (health probes excepted). */
export const DENY_RISKY_CALLERS = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-risky-callers
  namespace: istio-system
spec:
  action: DENY
  rules:
    - to:
        - operation:
            notPaths: ["/healthz"]
      when:
        - key: custom.falco_risk_score
          values: ["high", "critical"]
`;

/** The database refuses everyone while the Falco feed is silent, and anyone calling a compromised database. */
export const DATABASE_NEEDS_FRESH_FEED = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: database-needs-fresh-feed
  namespace: data
spec:
  selector:
    matchLabels:
      app: database
  action: DENY
  rules:
    - when:
        - key: custom.falco_feed
          values: ["stale"]
    - when:
        - key: custom.destination_falco_alert
          values: ["critical", "alert", "emergency"]
`;

export interface RiskTestServer extends TestServer {
  readonly client: CheckClient;
  readonly dir: string;
  post(
    body: string,
    options?: PostOptions,
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  check(principal: string, options?: { destination?: keyof typeof ID; path?: string }): Promise<Verdict>;
  risk(query?: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface PostOptions {
  token?: string | null;
  query?: string;
  contentType?: string;
  path?: string;
  /** Default POST. */
  method?: string;
}

export interface Verdict {
  readonly allowed: boolean;
  readonly reason: string;
  readonly policy: string;
}

/**
 * Starts a server with static mapping over the example inventory, the Falco and admin tokens, and `config` on top
 * (`workloads: {file: ""}` runs it without any inventory).
 */
export async function startRiskServer(
  config: Record<string, unknown> = {},
  policies: Record<string, string> = { "risk.yaml": DENY_RISKY_CALLERS },
  dir?: string,
): Promise<RiskTestServer> {
  const workDir = dir ?? (await mkdtemp(join(tmpdir(), "trustgate-risk-")));
  const inventoryFile = join(workDir, "workloads.yaml");
  await writeFile(inventoryFile, INVENTORY);
  const falco = (config.falco ?? {}) as Record<string, unknown>;
  const server = await startTestServer(policies, {
    ...config,
    http: { addr: "127.0.0.1:0", adminToken: ADMIN_TOKEN, ...((config.http as object) ?? {}) },
    identity: { trustDomains: ["cluster.local"] },
    workloads: { file: inventoryFile, ...((config.workloads as object) ?? {}) },
    log: { decisions: "none" },
    falco: { token: FALCO_TOKEN, ...falco },
  });
  const client = new CheckClient(server.grpcAddress);
  return {
    ...server,
    client,
    dir: workDir,
    async post(body, options = {}) {
      const headers: Record<string, string> = { "content-type": options.contentType ?? "application/json" };
      const token = options.token === undefined ? FALCO_TOKEN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${server.httpUrl}${options.path ?? "/v1/falco"}${options.query ?? ""}`, {
        method: options.method ?? "POST",
        headers,
        body,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
    },
    async check(principal, options = {}) {
      const destination = options.destination ?? "payment";
      const request = checkRequest({
        principal,
        destinationPrincipal: ID[destination],
        labels: { app: destination },
        path: options.path ?? "/api/v1/items",
      });
      const response = await client.check(request);
      const allowed = response.status.code === 0;
      const meta = response.dynamicMetadata?.fields ?? {};
      return { allowed, reason: meta.reason?.stringValue ?? "", policy: meta.policy?.stringValue ?? "" };
    },
    async risk(query = "") {
      const res = await fetch(`${server.httpUrl}/v1/risk${query}`);
      return (await res.json()) as Record<string, unknown>;
    },
    async close() {
      client.close();
      await server.stop();
      if (dir === undefined) await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** An ISO time `offsetMs` from now, in Falco's nanosecond form. */
export function falcoNow(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/Z$/, "000001Z");
}

export async function until<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
