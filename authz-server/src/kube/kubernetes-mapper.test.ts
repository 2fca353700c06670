import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../../test/support/kube-api-server.js";
import type { MappingOutcome } from "../falco/mapping/workload-mapper.js";
import { createLogger } from "../observability/logger.js";
import { KubernetesMapper } from "./kubernetes-mapper.js";

let api: KubeApiServer;
let mapper: KubernetesMapper | null = null;
let logs: string[] = [];

function logger() {
  logs = [];
  return createLogger(
    "info",
    new Writable({
      write(chunk, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
}

async function startMapper(options: { maxPods?: number; kubeconfig?: string; initialSyncTimeoutMs?: number } = {}) {
  mapper = new KubernetesMapper({
    trustDomain: "cluster.local",
    kubeconfig: options.kubeconfig ?? api.kubeconfigPath,
    maxPods: options.maxPods ?? 1000,
    logger: logger(),
    initialSyncTimeoutMs: options.initialSyncTimeoutMs,
  });
  await mapper.start();
  return mapper;
}

function fields(namespace: unknown, pod: unknown) {
  return { "k8s.ns.name": namespace, "k8s.pod.name": pod, "container.id": "5f1e2d3c4b5a" };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ORDER = "spiffe://cluster.local/ns/services/sa/order";

beforeEach(async () => {
  api = await startKubeApiServer();
  api.addPod({ namespace: "services", name: "order-7c9f8d6b5-x2x4q", serviceAccountName: "order" });
  api.addPod({ namespace: "services", name: "payment-6d5c4b3a2-k9j8h", serviceAccountName: "payment" });
  api.addPod({ namespace: "data", name: "cache-0", serviceAccountName: "cache" });
});

afterEach(async () => {
  await mapper?.stop();
  mapper = null;
  await api.stop();
});

describe("kubernetes mapping against a real API server (list + watch)", () => {
  it("lists pods at start (paginated) and maps (namespace, pod) to the service account's SPIFFE ID", async () => {
    const m = await startMapper();
    expect(m.pods.synced).toBe(true);
    expect(m.pods.size).toBe(3);
    expect(m.map(fields("services", "order-7c9f8d6b5-x2x4q"))).toEqual({ ok: true, spiffeId: ORDER });
    expect(m.map(fields("data", "cache-0"))).toEqual({ ok: true, spiffeId: "spiffe://cluster.local/ns/data/sa/cache" });
    expect(api.requests.some((r) => r.startsWith("GET /api/v1/pods?limit="))).toBe(true);
    expect(m.pods.stats.fetches).toBe(0);
  });

  it("follows ADDED, MODIFIED and DELETED watch events without fetching", async () => {
    const m = await startMapper();
    await until(() => api.openWatches === 1, "the watch");
    api.addPod({ namespace: "services", name: "billing-5b6c7d-qwert", serviceAccountName: "billing" });
    await until(() => m.pods.size === 4, "ADDED");
    expect(m.map(fields("services", "billing-5b6c7d-qwert"))).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/services/sa/billing",
    });
    api.updatePod({ namespace: "services", name: "billing-5b6c7d-qwert", serviceAccountName: "billing-v2" });
    await until(
      () =>
        (m.map(fields("services", "billing-5b6c7d-qwert")) as MappingOutcome & { spiffeId?: string }).spiffeId ===
        "spiffe://cluster.local/ns/services/sa/billing-v2",
      "MODIFIED",
    );
    api.deletePod("services", "billing-5b6c7d-qwert");
    await until(() => m.pods.size === 3, "DELETED");
    // A late alert about a just-deleted pod is still attributed (Falco can report after the pod is gone).
    expect(m.map(fields("services", "billing-5b6c7d-qwert"))).toMatchObject({ ok: true });
    expect(m.pods.stats.fetches).toBe(0);
  });

  it("fetches a pod it has not seen yet (a miss), once, and remembers that a pod does not exist", async () => {
    const m = await startMapper();
    api.addPod({ namespace: "services", name: "api-1", serviceAccountName: "api" }, { silent: true });
    const pending = m.map(fields("services", "api-1"));
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ ok: true, spiffeId: "spiffe://cluster.local/ns/services/sa/api" });
    expect(m.map(fields("services", "api-1"))).toMatchObject({ ok: true });
    expect(await m.map(fields("services", "ghost"))).toMatchObject({ ok: false, reason: "no-match" });
    expect(m.map(fields("services", "ghost"))).toMatchObject({ ok: false, reason: "no-match" });
    expect(api.requests.filter((r) => r.startsWith("GET /api/v1/namespaces/services/pods/")).length).toBe(2);
  });

  it("maps a pod known only by namespace and name (an audit alert's target): cached, fetched, missing, API down", async () => {
    const m = await startMapper();
    expect(m.mapPod("services", "order-7c9f8d6b5-x2x4q")).toEqual({ ok: true, spiffeId: ORDER });
    api.addPod({ namespace: "shop", name: "api-6f7d8c9b-zz1x2", serviceAccountName: "api" }, { silent: true });
    const pending = m.mapPod("shop", "api-6f7d8c9b-zz1x2");
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ ok: true, spiffeId: "spiffe://cluster.local/ns/shop/sa/api" });
    expect(await m.mapPod("shop", "gone-1")).toMatchObject({ ok: false, reason: "no-match" });
    await api.stop();
    expect(await m.mapPod("shop", "new-pod")).toMatchObject({ ok: false, reason: "lookup-failed" });
    expect(m.mapPod("services", "order-7c9f8d6b5-x2x4q")).toEqual({ ok: true, spiffeId: ORDER });
    api = await startKubeApiServer(); // for afterEach
  });

  it("watches pods as the policy watch does: bookmarks and a server-side timeout, so a dead stream is noticed", async () => {
    await startMapper();
    await until(() => api.openWatches === 1, "the watch");
    const watch = api.requests.find((r) => r.startsWith("GET /api/v1/pods?") && r.includes("watch=true"));
    const query = new URLSearchParams(watch!.split("?")[1]);
    expect(query.get("allowWatchBookmarks")).toBe("true");
    expect(Number(query.get("timeoutSeconds"))).toBeGreaterThanOrEqual(300);
    expect(query.get("resourceVersion")).not.toBe("");
  });

  it("re-watches from its resourceVersion when the server ends a watch, and relists on 410 Gone", async () => {
    const m = await startMapper();
    await until(() => api.openWatches === 1, "the watch");
    api.closeWatches();
    await until(() => api.openWatches === 1 && m.pods.stats.watches >= 2, "the re-watch");
    expect(m.pods.stats.lists).toBe(1);
    api.addPod({ namespace: "data", name: "database-0", serviceAccountName: "database" });
    await until(() => m.pods.size === 4, "an event on the new watch");

    // Events the client never saw, then history compacted: the re-watch gets 410 and must relist.
    api.addPod({ namespace: "frontend", name: "web-1", serviceAccountName: "web" }, { silent: true });
    api.compact();
    api.closeWatches();
    await until(() => m.pods.stats.lists === 2 && m.pods.size === 5, "the relist");
    expect(m.map(fields("frontend", "web-1"))).toMatchObject({ spiffeId: "spiffe://cluster.local/ns/frontend/sa/web" });
  });

  it('leaves null, "<NA>", "" and "host" values unattributed, and pods without a service account', async () => {
    const m = await startMapper();
    for (const [ns, pod] of [
      [null, null],
      ["<NA>", "<NA>"],
      ["services", ""],
      ["", "order-7c9f8d6b5-x2x4q"],
    ]) {
      expect(m.map(fields(ns, pod))).toMatchObject({ ok: false, reason: "unknown-workload" });
    }
    api.addPod({ namespace: "services", name: "bare" }, { silent: true });
    expect(await m.map(fields("services", "bare"))).toMatchObject({ ok: false, reason: "no-match" });
  });

  it('maps a pod or namespace named "host": Falco writes "host" for host processes in container fields only', async () => {
    const m = await startMapper();
    api.addPod({ namespace: "services", name: "host", serviceAccountName: "order" }, { silent: true });
    api.addPod({ namespace: "host", name: "web-1", serviceAccountName: "web" }, { silent: true });
    expect(await m.map(fields("services", "host"))).toEqual({
      ok: true,
      spiffeId: "spiffe://cluster.local/ns/services/sa/order",
    });
    expect(await m.map(fields("host", "web-1"))).toEqual({
      ok: true,
      spiffeId: "spiffe://cluster.local/ns/host/sa/web",
    });
  });

  it("keeps at most maxPods in the cache and looks the rest up one by one", async () => {
    const m = await startMapper({ maxPods: 2 });
    expect(m.pods.size).toBe(2);
    expect(m.pods.stats.overflow).toBe(1);
    const results = await Promise.all(
      ["order-7c9f8d6b5-x2x4q", "payment-6d5c4b3a2-k9j8h"].map((p) => m.map(fields("services", p))),
    );
    expect(await m.map(fields("data", "cache-0"))).toMatchObject({ ok: true });
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it("keeps using cached pods when the API server is gone, and says lookup-failed for unknown ones", async () => {
    const m = await startMapper();
    await api.stop();
    expect(m.map(fields("services", "order-7c9f8d6b5-x2x4q"))).toEqual({ ok: true, spiffeId: ORDER });
    expect(await m.map(fields("services", "new-pod"))).toMatchObject({ ok: false, reason: "lookup-failed" });
    api = await startKubeApiServer(); // for afterEach
  });

  it("starts anyway (and logs) when the API refuses its credentials", async () => {
    const other = await startKubeApiServer({ token: "another-token" });
    try {
      // The kubeconfig of `api` has the wrong token for `other`: point it there.
      const { readFile, writeFile } = await import("node:fs/promises");
      const text = (await readFile(api.kubeconfigPath, "utf8")).replace(api.url, other.url);
      const ca = /certificate-authority-data: (.*)/.exec(await readFile(other.kubeconfigPath, "utf8"))![1]!;
      await writeFile(
        api.kubeconfigPath,
        text.replace(/certificate-authority-data: .*/, `certificate-authority-data: ${ca}`),
      );
      const m = await startMapper({ initialSyncTimeoutMs: 300 });
      expect(m.pods.synced).toBe(false);
      expect(await m.map(fields("services", "order-7c9f8d6b5-x2x4q"))).toMatchObject({
        ok: false,
        reason: "lookup-failed",
      });
      await until(() => logs.some((l) => l.includes("kubernetes watch failed")), "the warning");
      expect(other.requests.length).toBeGreaterThan(0);
    } finally {
      await mapper?.stop();
      mapper = null;
      await other.stop();
    }
  });

  it("refuses to start when no kubeconfig is found anywhere (never falls back to localhost:8080)", async () => {
    const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
    const { mkdtemp, rm } = await import("node:fs/promises");
    const home = await mkdtemp(join(tmpdir(), "trustgate-home-"));
    try {
      process.env.KUBECONFIG = "";
      process.env.HOME = home;
      expect(
        () => new KubernetesMapper({ trustDomain: "cluster.local", kubeconfig: "", maxPods: 10, logger: logger() }),
      ).toThrow(/no Kubernetes cluster/);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(home, { recursive: true, force: true });
    }
  });

  it("refuses a kubeconfig without a cluster", () => {
    expect(
      () =>
        new KubernetesMapper({
          trustDomain: "cluster.local",
          kubeconfig: "/nonexistent/kubeconfig",
          maxPods: 10,
          logger: logger(),
        }),
    ).toThrow();
  });
});
