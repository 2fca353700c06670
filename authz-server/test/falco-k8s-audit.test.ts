/**
 * Falco `k8s_audit` alerts end to end on a real server (HTTP ingest, gRPC Checks) with the example library's runtime
 * risk policy (policies/mesh/runtime-risk.yaml): a shell opened in a pod through the Kubernetes API puts that pod's
 * workload at risk under each mapping strategy, and a service account's token used for something Falco flags puts
 * that service account's workload at risk without any inventory.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../test/support/kube-api-server.js";
import { at, falcoJson, SHELL_IN_ORDER, sidekickJson } from "./support/falco-alerts.js";
import {
  EXEC_INTO_PAYMENT,
  ORDER_ATTACHES_TO_PAYMENT,
  PUBLISHED_DISALLOWED_USER_OVH,
  SECRET_READ_BY_SHOP_API,
} from "./support/k8s-audit-alerts.js";
import { FALCO_TOKEN, falcoNow, ID, type RiskTestServer, startRiskServer } from "./support/risk-server.js";
import { startTestServer } from "./support/test-server.js";

const SHOP_API = "spiffe://cluster.local/ns/shop/sa/api";
const RUNTIME_RISK_POLICY = join(dirname(fileURLToPath(import.meta.url)), "../../policies/mesh/runtime-risk.yaml");

let runtimeRisk: Record<string, string>;
let server: RiskTestServer;
let api: KubeApiServer | null = null;

beforeAll(async () => {
  runtimeRisk = { "runtime-risk.yaml": await readFile(RUNTIME_RISK_POLICY, "utf8") };
});

afterEach(async () => {
  await server?.close();
  await api?.stop();
  api = null;
});

interface IdentityView {
  score: number;
  level: string;
  alerts: Array<{ rule: string; priority: string }>;
}

async function identity(id: string): Promise<IdentityView> {
  return (await server.risk(`?id=${encodeURIComponent(id)}`)).identity as IdentityView;
}

async function metrics(): Promise<string> {
  return (await fetch(`${server.httpUrl}/metrics`)).text();
}

async function revoked(): Promise<string[]> {
  return ((await (await fetch(`${server.httpUrl}/v1/revocations`)).json()) as { spiffeIds: string[] }).spiffeIds;
}

describe("Attach/Exec into a pod of a mapped workload (static mapping: pod prefixes)", () => {
  it("raises that workload's risk; by default one Notice weighs like a Terminal shell Notice (low), access stays", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } }, runtimeRisk);
    const time = falcoNow();
    const r = await server.post(falcoJson(at(EXEC_INTO_PAYMENT, time)));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, mapped: 1, attributions: 1, identities: [ID.payment] });
    const view = await identity(ID.payment);
    expect(view.score).toBeCloseTo(4, 1);
    expect(view.level).toBe("low");
    expect(view.alerts).toMatchObject([{ rule: "Attach/Exec Pod", priority: "Notice" }]);
    const shell = await identity(ID.order);
    expect(shell.score).toBe(0);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
  });

  it("denies the workload's next Check under the critical-risk policy when audit alerts weigh enough", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600, sourceWeights: { k8s_audit: 10 } } }, runtimeRisk);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
    const time = falcoNow();
    // Two shells (two pods of payment, so not repeats of one another): 2 × Notice 4 × 10 = 80, high.
    await server.post(falcoJson(at(EXEC_INTO_PAYMENT, time)));
    const second = at(EXEC_INTO_PAYMENT, time, {
      output_fields: { ...EXEC_INTO_PAYMENT.output_fields, "ka.target.name": "payment-6d5c4b3a2-p4q5r" },
    });
    await server.post(falcoJson(second));
    expect((await identity(ID.payment)).level).toBe("high");
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
    // A third, through Falcosidekick: 120, critical by score → denied by rule 1 of deny-critical-runtime-risk.
    const third = at(EXEC_INTO_PAYMENT, time, {
      output_fields: { ...EXEC_INTO_PAYMENT.output_fields, "ka.target.name": "payment-6d5c4b3a2-z9y8x" },
    });
    expect((await server.post(sidekickJson(third, "5d8e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"))).status).toBe(200);
    const denied = await server.check(ID.payment, { destination: "billing" });
    expect(denied.allowed).toBe(false);
    expect(denied.policy).toBe("istio-system/deny-critical-runtime-risk");
    expect(denied.reason).toContain(`Falco "Attach/Exec Pod" (Notice, ${time})`);
    expect(await revoked()).toContain(ID.payment);
    // Health probes still pass; other workloads are untouched.
    expect((await server.check(ID.payment, { destination: "billing", path: "/healthz" })).allowed).toBe(true);
    expect((await server.check(ID.order)).allowed).toBe(true);
  });

  it("denies at once when the operator raised the rule to Critical (the lift), with default weights", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } }, runtimeRisk);
    const time = falcoNow();
    await server.post(falcoJson(at(EXEC_INTO_PAYMENT, time, { priority: "Critical" })));
    const denied = await server.check(ID.payment, { destination: "billing" });
    expect(denied).toMatchObject({ allowed: false, policy: "istio-system/deny-critical-runtime-risk" });
    expect(denied.reason).toContain(`Falco "Attach/Exec Pod" (Critical, ${time})`);
  });

  it("puts both the service-account caller and the pod's workload at risk, each counted", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } }, runtimeRisk);
    const r = await server.post(falcoJson(at(ORDER_ATTACHES_TO_PAYMENT, falcoNow(), { priority: "Critical" })));
    expect(r.body).toMatchObject({ accepted: 1, mapped: 1, attributions: 2, identities: [ID.order, ID.payment] });
    expect((await server.check(ID.order)).allowed).toBe(false);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(false);
    const text = await metrics();
    expect(text).toContain('trustgate_falco_attributions_total{subject="caller",result="mapped"} 1');
    expect(text).toContain('trustgate_falco_attributions_total{subject="target",result="mapped"} 1');
    expect(text).toContain('trustgate_falco_alerts_total{priority="critical",mapping="mapped"} 1');
  });
});

describe("a service account's token used for something Falco flags", () => {
  it("raises spiffe://cluster.local/ns/shop/sa/api without any inventory, and denies it once critical", async () => {
    server = await startRiskServer(
      { workloads: { file: "" }, risk: { halfLifeSeconds: 600, sourceWeights: { k8s_audit: 6 } } },
      runtimeRisk,
    );
    expect((await server.check(SHOP_API)).allowed).toBe(true);
    const time = falcoNow();
    const r = await server.post(falcoJson(at(SECRET_READ_BY_SHOP_API, time)));
    expect(r.body).toMatchObject({ mapped: 1, attributions: 1, identities: [SHOP_API] });
    // Error 20 × 6 = 120: critical.
    expect(await identity(SHOP_API)).toMatchObject({
      level: "critical",
      alerts: [{ rule: "K8s Secret Get Successfully" }],
    });
    const denied = await server.check(SHOP_API);
    expect(denied).toMatchObject({ allowed: false, policy: "istio-system/deny-critical-runtime-risk" });
    expect(denied.reason).toContain(`Falco "K8s Secret Get Successfully" (Error, ${time})`);
  });

  it("leaves people unattributed: Disallowed K8s User adds risk to nobody, counted with its reason", async () => {
    server = await startRiskServer({ risk: { halfLifeSeconds: 600 } }, runtimeRisk);
    const r = await server.post(falcoJson(at(PUBLISHED_DISALLOWED_USER_OVH, falcoNow())));
    expect(r.body).toMatchObject({ accepted: 1, mapped: 0, unattributed: 1, attributions: 0, identities: [] });
    expect((await server.risk()).identities).toEqual([]);
    expect(await metrics()).toContain('trustgate_falco_unattributed_alerts_total{reason="not-a-workload"} 1');
  });
});

describe("the caller's trust domain", () => {
  it("warns at start-up when falco.mapping.trustDomain is not one trustgate accepts", async () => {
    const other = await startTestServer(
      {},
      { identity: { trustDomains: ["prod.example.org"] }, falco: { token: FALCO_TOKEN }, log: { decisions: "none" } },
    );
    try {
      expect(other.logs.find((l) => l.event === "falco trust domain not accepted")).toMatchObject({
        trust_domain: "cluster.local",
        accepted: ["prod.example.org"],
      });
    } finally {
      await other.stop();
    }
  });
});

describe("the kubernetes mapping: the pod directory names the pod's service account", () => {
  it("maps the exec'd pod through the API server and denies its workload when critical", async () => {
    api = await startKubeApiServer();
    api.addPod({ namespace: "services", name: "payment-6d5c4b3a2-k9j8h", serviceAccountName: "payment" });
    server = await startRiskServer(
      {
        falco: { mapping: { strategy: "kubernetes", kubeconfig: api.kubeconfigPath } },
        risk: { halfLifeSeconds: 600 },
      },
      runtimeRisk,
    );
    // A pod created after the list (no watch event yet seen) is fetched once.
    api.addPod(
      { namespace: "services", name: "payment-6d5c4b3a2-new01", serviceAccountName: "payment" },
      { silent: true },
    );
    const time = falcoNow();
    const known = at(ORDER_ATTACHES_TO_PAYMENT, time, { priority: "Critical" });
    const fresh = at(EXEC_INTO_PAYMENT, time, {
      priority: "Critical",
      output_fields: { ...EXEC_INTO_PAYMENT.output_fields, "ka.target.name": "payment-6d5c4b3a2-new01" },
    });
    const r = await server.post([falcoJson(known), falcoJson(fresh)].join("\n"));
    expect(r.body).toMatchObject({ accepted: 2, mapped: 2, attributions: 3, identities: [ID.order, ID.payment] });
    expect(api.requests).toContain("GET /api/v1/namespaces/services/pods/payment-6d5c4b3a2-new01");
    const denied = await server.check(ID.payment, { destination: "billing" });
    expect(denied).toMatchObject({ allowed: false, policy: "istio-system/deny-critical-runtime-risk" });
    expect((await server.check(ID.order)).allowed).toBe(false);
  });
});

describe("the label mapping", () => {
  it("cannot map an audit alert's pod (it carries no labels): unattributed, counted as unsupported", async () => {
    server = await startRiskServer(
      { falco: { mapping: { strategy: "label", label: "trustgate.io/sa" } } },
      runtimeRisk,
    );
    const r = await server.post(falcoJson(at(EXEC_INTO_PAYMENT, falcoNow(), { priority: "Critical" })));
    expect(r.body).toMatchObject({ mapped: 0, unattributed: 1 });
    expect(await metrics()).toContain('trustgate_falco_unattributed_alerts_total{reason="unsupported"} 1');
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
  });

  it("never trusts a full SPIFFE ID label without the pod's namespace: nobody is denied or revoked", async () => {
    server = await startRiskServer(
      { falco: { mapping: { strategy: "label", label: "trustgate.io/sa" } } },
      runtimeRisk,
    );
    const fields = { ...SHELL_IN_ORDER.output_fields, "k8s.pod.label.trustgate.io/sa": ID.payment } as Record<
      string,
      unknown
    >;
    delete fields["k8s.ns.name"];
    const r = await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow(), { output_fields: fields })));
    expect(r.body).toMatchObject({ mapped: 0, unattributed: 1 });
    expect(await metrics()).toContain('trustgate_falco_unattributed_alerts_total{reason="unknown-workload"} 1');
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
    expect(await revoked()).toEqual([]);
  });
});
