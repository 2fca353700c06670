/**
 * Adversarial probes of the Kubernetes policy mode, end to end: a real trustgate (in-process, real gRPC Checks)
 * against the emulated API server of test/support. Every probe states what Kubernetes/Istio would do; a failing
 * probe is a finding (see the report), kept failing on purpose.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { checkRequest } from "../../authz-server/test/support/fixtures.js";
import { allowPath, kubeConfig, type Obj, tgp, waitFor } from "../../authz-server/test/support/kube-policies.js";
import { startTestServer, type TestServer } from "../../authz-server/test/support/test-server.js";
import { type KubeApiServer, startKubeApiServer } from "../support/kube-api-server.js";

let api: KubeApiServer;
let server: TestServer | null = null;
let client: CheckClient | null = null;

beforeEach(async () => {
  api = await startKubeApiServer();
});

afterEach(async () => {
  client?.close();
  client = null;
  await server?.stop();
  server = null;
  api.failWhen(null);
  api.holdWhen(null);
  await api.stop();
});

const PRINCIPAL = "spiffe://cluster.local/ns/services/sa/order";

async function code(path: string, labels: Record<string, string> = { app: "payment" }): Promise<number> {
  return (await client!.check(checkRequest({ principal: PRINCIPAL, path, labels }))).status.code;
}

async function start(extra: Obj = {}): Promise<TestServer> {
  server = await startTestServer({}, { ...kubeConfig(api.kubeconfigPath, extra), workers: 1 });
  client = new CheckClient(server.grpcAddress);
  await waitFor(async () => ((await readyz(server!)).status === 200 ? true : undefined), "readiness");
  return server;
}

async function readyz(s: TestServer): Promise<{ status: number; body: Obj }> {
  const res = await fetch(`${s.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Obj };
}

async function metrics(s: TestServer): Promise<string> {
  return (await fetch(`${s.httpUrl}/metrics`)).text();
}

const allowAll = (namespace = "services") =>
  tgp(namespace, "allow-all", { action: "ALLOW", rules: [{ from: [{ source: { namespaces: ["services"] } }] }] });

const denyAdmin = (name = "deny-admin", namespace = "services", selector?: Obj) =>
  tgp(namespace, name, {
    action: "DENY",
    ...(selector ? { selector } : {}),
    rules: [{ to: [{ operation: { paths: ["/admin"] } }] }],
  });

/** Waits until a Check of `path` answers `expected` (0 OK, 7 PERMISSION_DENIED); returns the time it took. */
async function until(path: string, expected: number, timeoutMs = 3000): Promise<number> {
  const t0 = performance.now();
  await waitFor(async () => ((await code(path)) === expected ? true : undefined), `${path} → ${expected}`, timeoutMs);
  return performance.now() - t0;
}

describe("kube-adversarial: DENY lifecycle", () => {
  it("a DENY created, loosened and deleted takes effect within a second each", async () => {
    api.create("trustgatepolicies", allowAll());
    await start();
    expect(await code("/admin")).toBe(0);
    api.create("trustgatepolicies", denyAdmin());
    expect(await until("/admin", 7)).toBeLessThan(1000);
    api.remove("trustgatepolicies", "services", "deny-admin");
    expect(await until("/admin", 0)).toBeLessThan(1000);
  });

  it("an invalid edit of a DENY keeps the old DENY in force; other objects still change", async () => {
    api.create("trustgatepolicies", allowAll());
    api.create("trustgatepolicies", denyAdmin());
    await start();
    expect(await code("/admin")).toBe(7);
    api.update("trustgatepolicies", {
      ...denyAdmin(),
      spec: { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }] },
    });
    api.create("trustgatepolicies", denyAdmin("deny-other", "services"));
    api.update("trustgatepolicies", {
      ...denyAdmin("deny-other"),
      spec: { action: "DENY", rules: [{ to: [{ operation: { paths: ["/other"] } }] }] },
    });
    await until("/other", 7);
    expect(await code("/admin")).toBe(7);
  });

  it("same name in two namespaces: deleting one leaves the other in force", async () => {
    api.create("trustgatepolicies", allowAll());
    api.create("trustgatepolicies", denyAdmin("twin", "services"));
    api.create("trustgatepolicies", denyAdmin("twin", "other"));
    await start();
    expect(await code("/admin")).toBe(7);
    api.remove("trustgatepolicies", "other", "twin");
    await new Promise((r) => setTimeout(r, 300));
    expect(await code("/admin")).toBe(7);
    api.remove("trustgatepolicies", "services", "twin");
    await until("/admin", 0);
  });

  it("a DENY deleted and re-created (new uid) with an invalid spec: the old DENY goes (it is a new object)", async () => {
    api.create("trustgatepolicies", allowAll());
    api.create("trustgatepolicies", denyAdmin());
    await start();
    api.remove("trustgatepolicies", "services", "deny-admin");
    api.create("trustgatepolicies", {
      ...denyAdmin(),
      spec: { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }] },
    });
    await until("/admin", 0);
  });

  it("root-namespace DENY (istio-system) applies mesh-wide, also when namespaces are listed explicitly", async () => {
    api.create("trustgatepolicies", allowAll());
    api.create("trustgatepolicies", denyAdmin("mesh-deny", "istio-system"));
    await start({ namespaces: ["services", "istio-system"] });
    expect(await code("/admin")).toBe(7);
    api.remove("trustgatepolicies", "istio-system", "mesh-deny");
    await until("/admin", 0);
  });
});

describe("kube-adversarial: keys that reach JavaScript prototypes", () => {
  // matchLabels is `additionalProperties: {type: string}` in the CRD, so a `__proto__` key survives the API
  // server's structural pruning, and JSON.parse makes it an own property. The loader compiles it as an ordinary
  // label name (compile-policy.test.ts: "header, claim and label __proto__ compile as ordinary names").
  const selectorWith = (labels: string) => JSON.parse(`{"matchLabels": ${labels}}`);

  it("removing a `__proto__` label from a DENY's selector makes the DENY apply (the edit is not ignored)", async () => {
    api.create("trustgatepolicies", allowAll());
    // No pod can carry the label `__proto__` (not a valid label key), so this DENY selects nothing.
    api.create(
      "trustgatepolicies",
      denyAdmin("deny-admin", "services", selectorWith(`{"app": "payment", "__proto__": "x"}`)),
    );
    const s = await start();
    expect(await code("/admin")).toBe(0);
    // The owner fixes the selector: the DENY must now apply to app=payment.
    api.update("trustgatepolicies", denyAdmin("deny-admin", "services", selectorWith(`{"app": "payment"}`)));
    expect(api.get("trustgatepolicies", "services", "deny-admin")?.metadata.generation).toBe(2);
    let denied = true;
    try {
      await until("/admin", 7, 2000);
    } catch {
      denied = false;
    }
    const status = api.get("trustgatepolicies", "services", "deny-admin")?.status;
    console.log(
      "status after the fix:",
      JSON.stringify(status?.conditions?.[0]),
      "readyz",
      (await readyz(s)).body.policySet,
    );
    // The status also claims generation 2 is "compiled and in force" while generation 1 (selecting nothing) is.
    expect(denied, "the fixed DENY never took effect: /admin is still allowed").toBe(true);
  });
});

describe("kube-adversarial: a broken watch", () => {
  it("while list and watch fail (HTTP 500) for a while, /readyz or a gauge says the set may be stale", async () => {
    api.create("trustgatepolicies", allowAll());
    const s = await start();
    api.failWhen((method, url) => method === "GET" && url.pathname.includes("trustgatepolicies"), 500);
    api.closeWatches();
    api.create("trustgatepolicies", denyAdmin()); // a DENY the replica cannot see
    await new Promise((r) => setTimeout(r, 3000));
    const r = await readyz(s);
    const m = await metrics(s);
    const failures = /trustgate_kubernetes_watch_failures_total (\d+)/.exec(m)?.[1];
    console.log("readyz while broken:", r.status, JSON.stringify(r.body), "failures_total", failures);
    console.log(
      m
        .split("\n")
        .filter((l) => l.startsWith("trustgate_kubernetes"))
        .join("\n"),
    );
    expect(await code("/admin")).toBe(0); // stale: the DENY is not known (fail-static, by design)
    const logs = s.logs.filter((l) => l.event === "kubernetes watch failed");
    expect(logs.length).toBeGreaterThan(0);
    // Something an operator or a probe can see *now* (not a counter's rate): the file watcher has
    // readyz.policyWatcher {state: failed} and trustgate_policy_watcher_up 0; the Kubernetes source has neither.
    expect((r.body as { kubernetesWatch?: { state: string } }).kubernetesWatch?.state).toBe("failing");
    expect(m).toMatch(/^trustgate_kubernetes_watch_up 0$/m);
    expect(r.status).toBe(200); // still serving the last state read
    api.failWhen(null);
    await until("/admin", 7, 40_000);
    const healed = await readyz(s);
    expect((healed.body as { kubernetesWatch?: { state: string } }).kubernetesWatch?.state).toBe("watching");
    expect(await metrics(s)).toMatch(/^trustgate_kubernetes_watch_up 1$/m);
  }, 60_000);

  it("410 Gone on a list's continue token (a paged list of 1,200 objects) relists and sees a DENY made meanwhile", async () => {
    for (let i = 0; i < 1200; i++)
      api.create("trustgatepolicies", allowPath(`allow-${String(i).padStart(4, "0")}`, `/p${i}`));
    api.create(
      "trustgatepolicies",
      tgp("services", "allow-admin", { action: "ALLOW", rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] }),
    );
    // Hold the second page so the first page's snapshot can be compacted under it.
    api.holdWhen(
      (method, url) =>
        method === "GET" && url.searchParams.has("continue") && url.pathname.includes("trustgatepolicies"),
    );
    server = await startTestServer({}, { ...kubeConfig(api.kubeconfigPath), workers: 1 });
    client = new CheckClient(server.grpcAddress);
    await waitFor(() => (api.requests.some((r) => r.includes("continue=")) ? true : undefined), "second page");
    api.create("trustgatepolicies", denyAdmin());
    api.compact();
    api.holdWhen(null);
    await waitFor(async () => ((await readyz(server!)).status === 200 ? true : undefined), "readiness", 20_000);
    expect(await code("/admin")).toBe(7);
    expect(await code("/p1199")).toBe(0);
  }, 60_000);

  it("a terminating DENY (deletionTimestamp set, finalizer pending) stays enforced until it is gone", async () => {
    api.create("trustgatepolicies", allowAll());
    api.create("trustgatepolicies", denyAdmin());
    await start();
    expect(await code("/admin")).toBe(7);
    // The emulator has no finalizers; a metadata-only update that carries deletionTimestamp is what a watcher sees.
    const cur = api.get("trustgatepolicies", "services", "deny-admin")!;
    api.update("trustgatepolicies", {
      ...cur,
      metadata: { ...cur.metadata, deletionTimestamp: new Date().toISOString(), finalizers: ["example.com/hold"] },
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(await code("/admin")).toBe(7);
  });
});
