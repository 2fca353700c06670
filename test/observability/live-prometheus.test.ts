// The alert rules and the Grafana dashboard against real data: a real `trustgate serve` process (with a real Redis
// for risk sharing) answers real gRPC Checks and Falco alerts, a real Prometheus scrapes it every second and
// evaluates the rule file. Every PromQL expression of the rules and the dashboard must evaluate in Prometheus, every
// trustgate_* metric they read must be one trustgate exports, every dashboard query must return data, and the
// alerts that this traffic should raise must fire while the others stay silent.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { checkRequest, type TestRequest } from "../../authz-server/test/support/fixtures.js";
import { REPO, type ServeProcess, startServe } from "../../authz-server/test/support/process.js";
import { terminalShellAlert } from "../mesh/falco-alert.js";
import { workloadInventoryJson } from "../mesh/workloads.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { type PrometheusServer, startPrometheus } from "./prometheus-server.js";
import { metricNames } from "./promql-names.js";

const RULES_FILE = join(REPO, "envoy-configs", "observability", "prometheus", "trustgate-rules.yaml");
const DASHBOARD_FILE = join(REPO, "envoy-configs", "observability", "grafana", "trustgate.json");
const FALCO_TOKEN = "observability-test-falco-token-0123";

/** Gauges the rules read that trustgate does not export yet (the rule is written to stay silent without them). */
const NOT_YET_EXPORTED = new Set(["trustgate_workers_alive", "trustgate_workers_desired"]);

const ID = {
  web: "spiffe://cluster.local/ns/frontend/sa/web",
  api: "spiffe://cluster.local/ns/services/sa/api",
  payment: "spiffe://cluster.local/ns/services/sa/payment",
};

// An AUDIT policy and a dry-run DENY next to the example library, so the audit and shadow counters have series.
const EXTRA_POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: audit-api
  namespace: services
spec:
  selector:
    matchLabels:
      app: api
  action: AUDIT
  rules:
    - to:
        - operation:
            methods: ["POST"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-checkout-dry-run
  namespace: services
  annotations:
    istio.io/dry-run: "true"
spec:
  selector:
    matchLabels:
      app: api
  action: DENY
  rules:
    - to:
        - operation:
            paths: ["/api/checkout"]
`;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface QueryResult {
  resultType: string;
  result: Array<{ metric: Record<string, string>; value?: [number, string] }>;
}
interface AlertsResult {
  alerts: Array<{ labels: Record<string, string>; state: "pending" | "firing" }>;
}
interface RulesResult {
  groups: Array<{ name: string; file: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
}

const rules: Rule[] = (
  YAML.parse(readFileSync(RULES_FILE, "utf8")) as { groups: Array<{ rules: Rule[] }> }
).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as {
  panels: Panel[];
  templating: { list: Variable[] };
};

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("alert rules and dashboard on a real Prometheus scraping a real trustgate", () => {
  let dir: string;
  let redis: RedisProcess;
  let trustgate: ServeProcess;
  let prometheus: PrometheusServer;
  let client: CheckClient;
  let instance: string;
  let metricsText = "";

  async function query(expr: string): Promise<QueryResult> {
    const body = await prometheus.api<QueryResult>("/api/v1/query", { query: expr });
    if (body.status !== "success") throw new Error(`${expr}\n  -> ${body.errorType}: ${body.error}`);
    return body.data;
  }

  async function value(expr: string): Promise<number | undefined> {
    const first = (await query(expr)).result[0];
    return first?.value ? Number(first.value[1]) : undefined;
  }

  async function alertStates(): Promise<Map<string, string>> {
    const body = await prometheus.api<AlertsResult>("/api/v1/alerts");
    const states = new Map<string, string>();
    for (const a of body.data.alerts) {
      const name = a.labels.alertname!;
      if (states.get(name) !== "firing") states.set(name, a.state);
    }
    return states;
  }

  const check = (r: TestRequest) => client.check(checkRequest(r));

  const postFalco = (body: string, token = FALCO_TOKEN) =>
    fetch(`${trustgate.httpUrl}/v1/falco`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "trustgate-observability-"));
    const extraPolicies = join(dir, "policies");
    mkdirSync(extraPolicies);
    writeFileSync(join(extraPolicies, "observability.yaml"), EXTRA_POLICIES);
    writeFileSync(join(dir, "workloads.yaml"), workloadInventoryJson());
    redis = await startRedis();
    trustgate = await startServe(["--policy-dir", "policies"], {
      TRUSTGATE_POLICY_EXTRA_DIRS: extraPolicies,
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_TRUST_DOMAINS: "cluster.local",
      TRUSTGATE_WORKLOADS_FILE: join(dir, "workloads.yaml"),
      TRUSTGATE_FALCO_TOKEN: FALCO_TOKEN,
      TRUSTGATE_REDIS_URL: redis.url,
      TRUSTGATE_DECISION_LOG: "none",
    });
    instance = new URL(trustgate.httpUrl).host;
    client = new CheckClient(trustgate.grpcAddress);
    prometheus = await startPrometheus({ scrape: { trustgate: [instance] }, ruleFiles: [RULES_FILE], interval: "1s" });

    // Two scrapes before any traffic, so increase() sees the event counters go up from their first value.
    await until(
      "two scrapes of trustgate",
      () => value('count_over_time(trustgate_spoofed_identity_headers_total{job="trustgate"}[1m])'),
      (n) => (n ?? 0) >= 2,
    );

    // Traffic: an allowed call (audited, and denied by the dry-run policy), a call no policy allows, a request with
    // forged identity headers, a caller from a trust domain that is not allowed.
    const allowed = await check({
      principal: ID.web,
      destinationPrincipal: ID.api,
      labels: { app: "api" },
      method: "POST",
      path: "/api/checkout",
    });
    expect(allowed.status.code).toBe(0);
    const denied = await check({ principal: ID.payment, destinationPrincipal: ID.web, labels: { app: "web" } });
    expect(denied.status.code).not.toBe(0);
    await check({
      principal: ID.web,
      destinationPrincipal: ID.api,
      labels: { app: "api" },
      headers: { "x-trustgate-peer-spiffe-id": ID.payment },
    });
    await check({ principal: "spiffe://evil.example/ns/x/sa/y", destinationPrincipal: ID.api, labels: { app: "api" } });

    // Falco: a Critical alert about order, one about a container no workload owns, one with a wrong token.
    expect((await postFalco(terminalShellAlert("order").json)).ok).toBe(true);
    expect((await postFalco(terminalShellAlert("not-a-workload").json)).ok).toBe(true);
    expect((await postFalco(terminalShellAlert("order").json, "wrong-token")).status).toBe(401);

    // A policy file that does not load, then a reload: refused, the last good set stays.
    writeFileSync(
      join(extraPolicies, "broken.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nspec: [\n",
    );
    trustgate.child.kill("SIGHUP");
    await until(
      "the refused reload to show in /readyz",
      async () => (await (await fetch(`${trustgate.httpUrl}/readyz`)).json()) as { lastReloadError: string | null },
      (r) => r.lastReloadError !== null,
    );
    metricsText = await (await fetch(`${trustgate.httpUrl}/metrics`)).text();

    // Wait until Prometheus has two samples of the newest series (the reload counter, created last), so every
    // series this traffic created has a rate.
    await until(
      "two scrapes after the traffic",
      () => value('min(count_over_time(trustgate_policy_reloads_total{job="trustgate", result="error"}[1m]))'),
      (n) => (n ?? 0) >= 2,
    );
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await prometheus?.stop();
    if (trustgate) await stopTrustgate(trustgate);
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("loads every rule of the rule file, with no evaluation error", async () => {
    const states = await until(
      "every rule evaluated",
      async () => (await prometheus.api<RulesResult>("/api/v1/rules")).data.groups,
      (groups) => groups.length > 0 && groups.every((g) => g.rules.every((r) => r.health !== "unknown")),
      45_000,
    );
    const loaded = states.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert ?? r.record).sort());
    for (const r of loaded) {
      expect(r.health, `${r.name}: ${r.lastError}`).toBe("ok");
      expect(r.lastError ?? "", r.name).toBe("");
    }
    expect(states.every((g) => g.file === RULES_FILE)).toBe(true);
  }, 60_000);

  it("fires the alerts this traffic should raise, and only those", async () => {
    const expectedFiring = [
      "TrustgateSpoofedIdentityHeaders",
      "TrustgatePolicyReloadFailing",
      "TrustgateIdentityAtCriticalRisk",
      "TrustgateFalcoIngestRejections",
    ];
    // Fresh feed (Falco was just heard; it was stale before that, so its pending alert must go away), Redis
    // connected, the replica up, no internal errors, no dry run, no worker gauges, under 1 Check/s: nothing else
    // may even be pending.
    const states = await until(
      `exactly ${expectedFiring.join(", ")} to fire`,
      alertStates,
      (s) => expectedFiring.every((a) => s.get(a) === "firing") && s.size === expectedFiring.length,
      45_000,
    );
    expect([...states.keys()].sort()).toEqual([...expectedFiring].sort());
  }, 60_000);

  it("evaluates every rule expression and every dashboard query in Prometheus", async () => {
    for (const r of rules) await query(r.expr);
    const empty: string[] = [];
    for (const { panel, expr } of dashboardQueries(instance)) {
      const data = await query(expr);
      if (data.result.length === 0) empty.push(`${panel}: ${expr}`);
    }
    // Every panel has something to show after this traffic (the traffic was chosen to give every series a value).
    expect(empty).toEqual([]);
  });

  it("resolves the dashboard's template variables to trustgate's job and this replica", async () => {
    for (const v of dashboard.templating.list.filter((x) => x.type === "query")) {
      const text = typeof v.query === "string" ? v.query : v.query.query;
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(text);
      expect(m, text).not.toBeNull();
      const selector = substitute(m![1]!, instance);
      const series = await prometheus.api<Array<Record<string, string>>>("/api/v1/series", { "match[]": selector });
      expect(series.status).toBe("success");
      const values = new Set(series.data.map((s) => s[m![2]!]));
      expect([...values]).toEqual([m![2] === "job" ? "trustgate" : instance]);
    }
  });

  it("reads only metrics trustgate exports (checked against its /metrics and Prometheus' metric names)", async () => {
    const names = await prometheus.api<string[]>("/api/v1/label/__name__/values");
    const inPrometheus = new Set(names.data);
    const inMetricsText = new Set(
      metricsText
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    );
    const referenced = new Map<string, string[]>();
    const note = (name: string, where: string) => referenced.set(name, [...(referenced.get(name) ?? []), where]);
    for (const r of rules) for (const n of metricNames(r.expr)) note(n, `rule ${r.alert ?? r.record}`);
    for (const { panel, expr } of dashboardQueries(instance)) for (const n of metricNames(expr)) note(n, panel);
    for (const v of dashboard.templating.list.filter((x) => x.type === "query")) {
      const text = typeof v.query === "string" ? v.query : v.query.query;
      for (const n of metricNames(substitute(/^label_values\((.+),\s*\w+\)$/.exec(text)![1]!, instance))) {
        note(n, `variable ${v.name}`);
      }
    }

    const missing: string[] = [];
    for (const [name, where] of referenced) {
      if (!name.startsWith("trustgate_")) {
        expect(name, `${where.join(", ")} reads a metric trustgate does not export`).toBe("up");
        continue;
      }
      if (NOT_YET_EXPORTED.has(name) && !inMetricsText.has(name)) {
        expect(where, `${name} may only be read by the worker alert`).toEqual(["rule TrustgateWorkerDown"]);
        continue;
      }
      if (!inMetricsText.has(name) || !inPrometheus.has(name)) missing.push(`${name} (${where.join(", ")})`);
    }
    expect(missing).toEqual([]);
    // The check is not vacuous: the rules and panels read most of what trustgate exports.
    expect(referenced.size).toBeGreaterThan(30);
  });

  it("raises the Redis alert when Redis goes away, and the replica alert when trustgate does", async () => {
    await redis.stop();
    await until("TrustgateRedisSharingDisconnected to be pending", alertStates, (s) =>
      ["pending", "firing"].includes(s.get("TrustgateRedisSharingDisconnected") ?? ""),
    );
    await stopTrustgate(trustgate);
    await until("TrustgateReplicaDown to be pending", alertStates, (s) =>
      ["pending", "firing"].includes(s.get("TrustgateReplicaDown") ?? ""),
    );
  }, 60_000);
});

/** SIGTERM, and SIGKILL if the process has not exited within 10 s (a hung shutdown must not hang the suite). */
async function stopTrustgate(p: ServeProcess): Promise<void> {
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000);
  await p.stop();
  clearTimeout(timer);
}

/** Dashboard variables and Grafana's interval macros replaced with concrete values. */
function substitute(expr: string, instance: string): string {
  const out = expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$__range", "1h")
    .replaceAll("$job", "trustgate")
    .replaceAll("$instance", instance.replaceAll(".", "\\\\."));
  if (out.includes("$")) throw new Error(`an unknown variable is left in: ${out}`);
  return out;
}

function dashboardQueries(instance: string): Array<{ panel: string; expr: string }> {
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: `${p.title} [${t.refId}]`, expr: substitute(t.expr, instance) })),
  );
}
