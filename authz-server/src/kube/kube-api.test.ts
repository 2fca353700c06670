import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../../test/support/kube-api-server.js";
import { KubeApiError, kubeApi } from "./kube-api.js";
import { loadKubeConfig } from "./kube-config.js";

let api: KubeApiServer;

beforeEach(async () => {
  api = await startKubeApiServer();
});

afterEach(async () => {
  await api.stop();
});

const policy = (name: string) => ({
  apiVersion: "trustgate.dev/v1alpha1",
  kind: "TrustgatePolicy",
  metadata: { name, namespace: "services" },
  spec: { action: "ALLOW", rules: [] },
});

describe("kubeApi", () => {
  it("resumes its TLS sessions: a status write per policy is not a full handshake per policy", async () => {
    for (let i = 0; i < 20; i++) api.create("trustgatepolicies", policy(`p${i}`));
    const client = kubeApi(loadKubeConfig(api.kubeconfigPath));
    const path = (i: number) => `/apis/trustgate.dev/v1alpha1/namespaces/services/trustgatepolicies/p${i}/status`;
    const before = api.tlsConnections;
    expect(api.tlsResumed).toBe(0);
    for (let i = 0; i < 10; i++) {
      await client.request("PATCH", path(i), {
        body: { status: { observedGeneration: 1 } },
        contentType: "application/merge-patch+json",
      });
    }
    // Four at a time, as the status reporter writes.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.request("PATCH", path(10 + i), {
          body: { status: { observedGeneration: 1 } },
          contentType: "application/merge-patch+json",
        }),
      ),
    );
    // A new connection per request (nothing kept open), all but the first few resuming a session.
    expect(api.tlsConnections - before).toBe(20);
    expect(api.tlsResumed).toBeGreaterThanOrEqual(15);
    const writes = api.log.filter((r) => r.method === "PATCH");
    expect(writes).toHaveLength(20);
    // Every request still carries the kubeconfig's credentials, and every write landed.
    for (const w of writes) expect([w.user, w.status]).toEqual([writes[0]!.user, 200]);
    expect(writes[0]!.user).not.toBe("");
    expect(api.get("trustgatepolicies", "services", "p19")?.status).toEqual({ observedGeneration: 1 });
  });

  it("still rejects with the API server's status and reason", async () => {
    const client = kubeApi(loadKubeConfig(api.kubeconfigPath));
    const missing = client.request("GET", "/apis/trustgate.dev/v1alpha1/namespaces/services/trustgatepolicies/none");
    await expect(missing).rejects.toBeInstanceOf(KubeApiError);
    await expect(missing).rejects.toMatchObject({ status: 404 });
  });
});
