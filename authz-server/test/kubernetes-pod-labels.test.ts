/**
 * Destination labels from the cluster for Checks whose sidecar sends none (Istio's CUSTOM provider does not):
 * the pod with the destination address, else the labels shared by the pods of the destination's service account.
 * A real trustgate, the fake API server's pods, real gRPC Checks against a selector policy.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../test/support/kube-api-server.js";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { denyAdminOn, kubeConfig, type Obj, waitFor } from "./support/kube-policies.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let api: KubeApiServer;
let server: TestServer | null = null;
let client: CheckClient | null = null;

beforeEach(async () => {
  api = await startKubeApiServer();
  api.addPod({
    namespace: "services",
    name: "payment-7d9f-abcde",
    serviceAccountName: "payment",
    ip: "10.1.0.5",
    labels: { app: "payment", version: "v1", "pod-template-hash": "7d9f" },
  });
  api.addPod({
    namespace: "services",
    name: "payment-7d9f-fghij",
    serviceAccountName: "payment",
    ip: "10.1.0.7",
    labels: { app: "payment", version: "v1", "pod-template-hash": "7d9f" },
  });
  api.addPod({
    namespace: "services",
    name: "web-1",
    serviceAccountName: "web",
    ip: "10.1.0.6",
    labels: { app: "web" },
  });
  api.addPod({
    namespace: "other",
    name: "db-0",
    serviceAccountName: "db",
    ip: "10.2.0.9",
    labels: { app: "payment" },
  });
  api.create("trustgatepolicies", denyAdminOn("services", "payment"));
});

afterEach(async () => {
  client?.close();
  client = null;
  await server?.stop();
  server = null;
  await api.stop();
});

async function start(extra: Obj = {}): Promise<TestServer> {
  server = await startTestServer({}, { ...kubeConfig(api.kubeconfigPath, { status: { write: false } }), ...extra });
  client = new CheckClient(server.grpcAddress);
  await waitFor(async () => ((await fetch(`${server!.httpUrl}/readyz`)).status === 200 ? true : undefined), "ready");
  return server;
}

/** gRPC status of a call to /admin on `destination` (sa) at `ip`, with the labels Envoy sends (none by default). */
async function admin(sa: string, ip: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await client!.check(
    checkRequest({
      principal: "spiffe://cluster.local/ns/services/sa/order",
      destinationPrincipal: `spiffe://cluster.local/ns/services/sa/${sa}`,
      destinationIp: ip,
      labels,
      path: "/admin",
    }),
  );
  return response.status.code;
}

describe("destination labels from the pod watch", () => {
  it("by destination address, else by service account; Envoy's own labels win", async () => {
    await start();
    await waitFor(() => (server!.server.kubernetes.podLabels!.size === 4 ? true : undefined), "the pods");
    expect(await admin("payment", "10.1.0.5")).toBe(7); // the pod at that IP is app=payment
    expect(await admin("web", "10.1.0.6")).toBe(0);
    expect(await admin("payment", "10.9.9.9")).toBe(7); // unknown IP: the labels all payment pods share
    expect(await admin("payment", "10.1.0.5", { app: "web" })).toBe(0); // Envoy sent labels: those count
    // An IP whose pod runs as another service account (or in another namespace) lends nothing: the
    // destination's own service account decides.
    expect(await admin("web", "10.1.0.5")).toBe(0);
    expect(await admin("web", "10.2.0.9")).toBe(0);
  });

  it("follows label changes, new pods and deleted pods", async () => {
    await start();
    await waitFor(() => (server!.server.kubernetes.podLabels!.size === 4 ? true : undefined), "the pods");
    api.updatePod({
      namespace: "services",
      name: "payment-7d9f-abcde",
      serviceAccountName: "payment",
      ip: "10.1.0.5",
      labels: { app: "payment-canary" },
    });
    await waitFor(async () => ((await admin("payment", "10.1.0.5")) === 0 ? true : undefined), "the relabelled pod");
    // The service account's shared labels no longer include app=payment either (the pods disagree).
    expect(await admin("payment", "10.9.9.9")).toBe(0);
    api.deletePod("services", "payment-7d9f-abcde");
    await waitFor(async () => ((await admin("payment", "10.9.9.9")) === 7 ? true : undefined), "the remaining pod");
    api.addPod({
      namespace: "services",
      name: "web-2",
      serviceAccountName: "web",
      ip: "10.1.0.8",
      labels: { app: "payment" },
    });
    await waitFor(async () => ((await admin("web", "10.1.0.8")) === 7 ? true : undefined), "the new pod");
  });

  it("shares the Falco kubernetes mapping's pod watch (one watch for both)", async () => {
    await start({ falco: { mapping: { strategy: "kubernetes", kubeconfig: api.kubeconfigPath } } });
    await waitFor(() => (server!.server.kubernetes.podLabels!.size === 4 ? true : undefined), "the pods");
    expect(api.watchesOf("pods")).toBe(1);
    expect(await admin("payment", "10.1.0.5")).toBe(7);
  });

  it("is off with policies.kubernetes.podLabels: false", async () => {
    server = await startTestServer({}, kubeConfig(api.kubeconfigPath, { podLabels: false, status: { write: false } }));
    client = new CheckClient(server.grpcAddress);
    await waitFor(async () => ((await fetch(`${server!.httpUrl}/readyz`)).status === 200 ? true : undefined), "ready");
    expect(server.server.kubernetes.podLabels).toBeNull();
    // Nothing tells the destination's labels now, so the selector DENY counts as applying: closed, not skipped.
    expect(await admin("payment", "10.1.0.5")).toBe(7);
    expect(api.requests.some((r) => r.startsWith("GET /api/v1/pods"))).toBe(false);
  });
});
