/**
 * The Kubernetes policy source against a real trustgate server and the fake API server (real HTTPS, list/watch,
 * 410 Gone, bookmarks, status subresource), every decision taken over a real gRPC Check: objects added, changed and
 * deleted go live within a second; an invalid object is refused with a status that says why and never changes a
 * decision; a dropped watch, a 410 and a silent API server lose no update; nothing is served before the first list.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../test/support/kube-api-server.js";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { allowPath, condition, healthStatus, kubeConfig, type Obj, tgp, waitFor } from "./support/kube-policies.js";
import { runCli, startServe } from "./support/process.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

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
  await api.stop();
});

const request = (path: string) =>
  checkRequest({ principal: "spiffe://cluster.local/ns/services/sa/order", path, labels: { app: "payment" } });

async function code(path: string): Promise<number> {
  return (await client!.check(request(path))).status.code;
}

async function start(extra: Obj = {}): Promise<TestServer> {
  server = await startTestServer({}, kubeConfig(api.kubeconfigPath, extra));
  client = new CheckClient(server.grpcAddress);
  return server;
}

async function readyz(s: TestServer): Promise<{ status: number; body: Obj }> {
  const res = await fetch(`${s.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Obj };
}

/** Milliseconds from `change` until a Check of `path` answers `expected` (0 OK, 7 PERMISSION_DENIED). */
async function timeUntil(change: () => void, path: string, expected: number): Promise<number> {
  const started = performance.now();
  change();
  await waitFor(async () => ((await code(path)) === expected ? true : undefined), `${path} → ${expected}`);
  return performance.now() - started;
}

describe("TrustgatePolicy objects as the policy source", () => {
  it("serves nothing (readyz 503, gRPC NOT_SERVING, Checks denied) until the first complete list", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    api.holdWhen((method, url) => method === "GET" && url.searchParams.get("watch") === null);
    const s = await start();
    await waitFor(() => (api.requests.some((r) => r.includes("trustgatepolicies?")) ? true : undefined), "the list");
    expect((await readyz(s)).status).toBe(503);
    expect((await readyz(s)).body.status).toBe("policies not loaded");
    expect(await healthStatus(s.grpcAddress)).toBe("NOT_SERVING");
    const early = await client!.check(request("/a"));
    expect(early.status.code).toBe(7);
    expect(early.status.message).toContain("no policy set is loaded yet");

    api.holdWhen(null);
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    expect(await healthStatus(s.grpcAddress)).toBe("SERVING");
    expect(await code("/a")).toBe(0);
    expect(await code("/b")).toBe(7);
    expect(s.logs.some((l) => l.event === "policy set active" && String(l.trigger).startsWith("kubernetes:"))).toBe(
      true,
    );
  });

  it("an object added, changed and deleted changes decisions within a second", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    const s = await start();
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    expect(await code("/b")).toBe(7);

    const added = await timeUntil(() => api.create("trustgatepolicies", allowPath("allow-b", "/b")), "/b", 0);
    const changed = await timeUntil(() => api.update("trustgatepolicies", allowPath("allow-b", "/c")), "/b", 7);
    expect(await code("/c")).toBe(0);
    const deleted = await timeUntil(() => api.remove("trustgatepolicies", "services", "allow-b"), "/c", 7);
    expect(await code("/a")).toBe(0);
    console.log(
      `live in: added ${added.toFixed(0)} ms, changed ${changed.toFixed(0)} ms, deleted ${deleted.toFixed(0)} ms`,
    );
    for (const ms of [added, changed, deleted]) expect(ms).toBeLessThan(1000);
    // The Check's policy version is the set's: the objects are part of it.
    const version = (await readyz(s)).body.policySet.version;
    const response = await client!.check(request("/a"));
    expect(response.dynamicMetadata?.fields.policy_version?.stringValue).toBe(version);
  });

  it("refuses an invalid object with Accepted=False and the loader's message, and never changes decisions", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    const s = await start();
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    const version = (await readyz(s)).body.policySet.version;

    // A new object that does not compile (a CIDR prefix past /32): not in force, status says why.
    const broken = tgp("services", "deny-range", {
      action: "DENY",
      rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }],
    });
    api.create("trustgatepolicies", broken);
    const refused = await waitFor(
      () => condition(api.get("trustgatepolicies", "services", "deny-range"), "Accepted"),
      "status of deny-range",
    );
    expect(refused).toMatchObject({ status: "False", reason: "Invalid", observedGeneration: 1 });
    expect(refused.message).toContain(
      "TrustgatePolicy services/deny-range: policy services/deny-range, rule 0, field spec.rules[0].from[0].source.ipBlocks[0]:",
    );
    expect(refused.message).toContain("nothing of this policy is in force");
    expect(api.get("trustgatepolicies", "services", "deny-range")?.status.observedGeneration).toBe(1);

    // A good object broken by an edit: its last good version stays in force.
    api.update("trustgatepolicies", {
      ...allowPath("allow-a", "/a"),
      spec: { rules: [{ when: [{ key: "custom.falco_alert", values: ["high"] }] }] },
    });
    const kept = await waitFor(() => {
      const c = condition(api.get("trustgatepolicies", "services", "allow-a"), "Accepted");
      return c?.observedGeneration === 2 ? c : undefined;
    }, "status of allow-a generation 2");
    expect(kept).toMatchObject({ status: "False", reason: "Invalid" });
    expect(kept.message).toContain('"high" is not one of: emergency, alert, critical');
    expect(kept.message).toContain("the last accepted version (generation 1) stays in force");
    expect(await code("/a")).toBe(0);
    expect(await code("/b")).toBe(7);
    expect((await readyz(s)).body.policySet.version).toBe(version);
    expect(s.logs.some((l) => l.event === "kubernetes policy rejected" && l.policy === "services/allow-a")).toBe(true);

    // Fixing it takes effect and the status follows.
    api.update("trustgatepolicies", allowPath("allow-a", "/b"));
    await waitFor(async () => ((await code("/b")) === 0 ? true : undefined), "the fixed policy");
    const accepted = await waitFor(() => {
      const c = condition(api.get("trustgatepolicies", "services", "allow-a"), "Accepted");
      return c?.observedGeneration === 3 && c.status === "True" ? c : undefined;
    }, "Accepted=True");
    expect(accepted.reason).toBe("Accepted");
  });

  it("a dropped watch loses no update; a 410 Gone relists and loses no update or delete", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    api.create("trustgatepolicies", allowPath("allow-z", "/z"));
    const s = await start({ status: { write: false } });
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    const source = s.server.kubernetes.source!;
    await waitFor(() => (api.watchesOf("trustgatepolicies") === 1 ? true : undefined), "the watch");

    // The watch drops and reconnecting fails for a while; a change made meanwhile arrives once it is back.
    const isWatch = (method: string, url: URL) => method === "GET" && url.searchParams.get("watch") === "true";
    api.failWhen(isWatch, 503);
    api.closeWatches();
    api.create("trustgatepolicies", allowPath("allow-b", "/b"));
    await waitFor(() => (source.watchStats()[0]!.failures > 0 ? true : undefined), "a failed reconnect");
    expect(await code("/b")).toBe(7);
    api.failWhen(null);
    await waitFor(async () => ((await code("/b")) === 0 ? true : undefined), "the change made while disconnected");
    expect(source.watchStats()[0]!.lists).toBe(1); // resumed from its resourceVersion, no relist

    // The API server compacts its history while the watch is down: 410 Gone, relist, nothing lost.
    api.failWhen(isWatch, 503);
    api.closeWatches();
    api.update("trustgatepolicies", allowPath("allow-b", "/c"));
    api.remove("trustgatepolicies", "services", "allow-z");
    api.compact();
    api.failWhen(null);
    await waitFor(async () => ((await code("/c")) === 0 ? true : undefined), "the update made before the 410");
    await waitFor(async () => ((await code("/z")) === 7 ? true : undefined), "the delete made before the 410");
    expect(await code("/b")).toBe(7);
    expect(source.watchStats()[0]!.expired).toBeGreaterThanOrEqual(1);
    expect(source.watchStats()[0]!.lists).toBe(2);
    expect(s.logs.some((l) => l.event === "kubernetes watch failed")).toBe(true);
    expect(s.logs.some((l) => l.event === "kubernetes watch restored")).toBe(true);
  });

  it("bookmarks keep the watch's resourceVersion fresh, so a reconnect after compaction needs no relist", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    const s = await start({ status: { write: false } });
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    const source = s.server.kubernetes.source!;
    await waitFor(() => (api.watchesOf("trustgatepolicies") === 1 ? true : undefined), "the watch");
    const stats = source.watchStats()[0]!;

    // Other resources move the revision on; a bookmark tells the watch it has seen everything up to there.
    for (let i = 0; i < 5; i++) api.addPod({ namespace: "services", name: `web-${i}`, serviceAccountName: "web" });
    api.bookmark();
    await waitFor(() => (stats.bookmarks === 1 ? true : undefined), "the bookmark");
    api.compact();
    api.closeWatches();
    api.create("trustgatepolicies", allowPath("allow-b", "/b"));
    await waitFor(async () => ((await code("/b")) === 0 ? true : undefined), "the new object");
    expect(stats.expired).toBe(0);
    expect(stats.lists).toBe(1);

    // Without a bookmark, the same sequence costs a 410 and a relist (and still loses nothing).
    for (let i = 5; i < 10; i++) api.addPod({ namespace: "services", name: `web-${i}`, serviceAccountName: "web" });
    api.compact();
    api.closeWatches();
    api.create("trustgatepolicies", allowPath("allow-c", "/c"));
    await waitFor(async () => ((await code("/c")) === 0 ? true : undefined), "the object after the relist");
    expect(stats.expired).toBe(1);
    expect(stats.lists).toBe(2);
    // The watch asked for bookmarks and a server-side timeout.
    const watch = api.requests.find((r) => r.includes("trustgatepolicies?") && r.includes("watch=true"))!;
    expect(watch).toContain("allowWatchBookmarks=true");
    expect(watch).toMatch(/timeoutSeconds=\d+/);
  });

  it("without the CRD (404) stays unready, says why, and recovers once it exists", async () => {
    api.failWhen((_m, url) => url.pathname.includes("trustgatepolicies"), 404);
    const s = await start({ status: { write: false } });
    const failed = await waitFor(() => s.logs.find((l) => l.event === "kubernetes watch failed"), "the failure log");
    expect(String(failed.msg)).toContain("is its CustomResourceDefinition installed?");
    expect((await readyz(s)).status).toBe(503);
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    api.failWhen(null);
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    expect(await code("/a")).toBe(0);
  });

  it("watches only the configured namespaces", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    api.create("trustgatepolicies", allowPath("allow-b", "/b", "elsewhere"));
    api.create(
      "trustgatepolicies",
      tgp("istio-system", "deny-x", { action: "DENY", rules: [{ to: [{ operation: { paths: ["/x"] } }] }] }),
    );
    api.create("trustgatepolicies", allowPath("allow-x", "/x"));
    const s = await start({ namespaces: ["services", "istio-system"], status: { write: false } });
    await waitFor(async () => ((await readyz(s)).status === 200 ? true : undefined), "readiness");
    expect((await readyz(s)).body.policySet.policies).toBe(3);
    expect(await code("/a")).toBe(0);
    expect(await code("/x")).toBe(7); // the root namespace's DENY applies mesh-wide
    expect(
      api.requests.some((r) => r.startsWith("GET /apis/trustgate.dev/v1alpha1/namespaces/services/trustgatepolicies?")),
    ).toBe(true);
    expect(api.requests.some((r) => r.startsWith("GET /apis/trustgate.dev/v1alpha1/trustgatepolicies"))).toBe(false);
  });
});

describe("trustgate serve with policies.source both (real process)", () => {
  it("joins files and objects, a file wins a name clash (status Conflict), and stops cleanly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-both-"));
    try {
      await mkdir(join(dir, "policies"));
      await writeFile(
        join(dir, "policies", "a.yaml"),
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-a, namespace: services}\nspec:\n  rules: [{to: [{operation: {paths: [/a]}}]}]\n",
      );
      api.create("trustgatepolicies", allowPath("allow-a", "/x")); // same name as the file's policy
      api.create("trustgatepolicies", allowPath("allow-b", "/b"));
      const serve = await startServe(["--policy-dir", join(dir, "policies"), "--policy-source", "both"], {
        KUBECONFIG: api.kubeconfigPath,
        TRUSTGATE_POLICY_WATCH: "false",
      });
      const check = (path: string) =>
        runCli([
          "check",
          "--addr",
          serve.grpcAddress,
          "--principal",
          "spiffe://cluster.local/ns/services/sa/order",
          "--destination-principal",
          "spiffe://cluster.local/ns/services/sa/payment",
          "--path",
          path,
        ]);
      try {
        expect((await check("/a")).code).toBe(0); // the file
        expect((await check("/b")).code).toBe(0); // an object
        expect((await check("/x")).code).toBe(1); // the object that lost to the file
        const conflict = await waitFor(
          () => condition(api.get("trustgatepolicies", "services", "allow-a"), "Accepted"),
          "status of the clashing object",
        );
        expect(conflict).toMatchObject({ status: "False", reason: "Conflict" });
        expect(conflict.message).toContain("policy services/allow-a is also defined by");
        expect(conflict.message).toContain("a.yaml:1, which is in force (a policy file wins)");
        expect(condition(api.get("trustgatepolicies", "services", "allow-b"), "Accepted")?.status).toBe("True");
      } finally {
        expect(await serve.stop()).toBe(0);
      }
      // The Lease was released on the way out, for the next replica to take at once.
      expect(api.get("leases", "trustgate-system", "trustgate-policy-status")?.spec.holderIdentity).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start without a cluster to read from", async () => {
    const home = await mkdtemp(join(tmpdir(), "trustgate-home-"));
    try {
      const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"], {
        env: { TRUSTGATE_POLICY_SOURCE: "kubernetes", KUBECONFIG: "", HOME: home },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("policies.source kubernetes: no Kubernetes cluster in the default kubeconfig");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
