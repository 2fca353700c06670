/**
 * The fake Kubernetes API follows the API conventions the tests rely on (checked here over its real HTTPS interface,
 * independently of trustgate): authentication, generation and resourceVersion, optimistic concurrency, the status
 * subresource, merge patches, watch from a resourceVersion, 410 Gone after compaction, bookmarks.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type KubeApiServer, startKubeApiServer } from "./kube-api-server.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form JSON
type Obj = Record<string, any>;

let api: KubeApiServer;
let ca: string;

beforeEach(async () => {
  api = await startKubeApiServer();
  const kubeconfig = YAML.parse(readFileSync(api.kubeconfigPath, "utf8")) as Obj;
  ca = Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64").toString("utf8");
});

afterEach(async () => {
  await api.stop();
});

const BASE = "/apis/trustgate.dev/v1alpha1/namespaces/shop/trustgatepolicies";

function call(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string; contentType?: string } = {},
): Promise<{ status: number; body: Obj }> {
  const text = body === undefined ? "" : JSON.stringify(body);
  const url = new URL(api.url + path);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca,
        servername: "localhost",
        headers: {
          authorization: `Bearer ${options.token ?? "kube-test-token"}`,
          ...(text ? { "content-type": options.contentType ?? "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || "{}") }),
        );
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

/** Opens a watch and collects its events until `count` arrived or the stream ended. */
function watch(query: string, count: number): Promise<Obj[]> {
  return new Promise((resolve, reject) => {
    const events: Obj[] = [];
    const req = request(
      new URL(`${api.url}${BASE}?watch=true&${query}`),
      { ca, servername: "localhost", headers: { authorization: "Bearer kube-test-token" } },
      (res) => {
        let buffer = "";
        res.on("data", (c: Buffer) => {
          buffer += c.toString();
          let nl = buffer.indexOf("\n");
          while (nl >= 0) {
            events.push(JSON.parse(buffer.slice(0, nl)));
            buffer = buffer.slice(nl + 1);
            nl = buffer.indexOf("\n");
          }
          if (events.length >= count) {
            req.destroy();
            resolve(events);
          }
        });
        res.on("end", () => resolve(events));
      },
    );
    req.on("error", (err) => (events.length >= count ? resolve(events) : reject(err)));
    req.end();
  });
}

const policy = (spec: Obj) => ({
  apiVersion: "trustgate.dev/v1alpha1",
  kind: "TrustgatePolicy",
  metadata: { name: "p" },
  spec,
});

describe("fake Kubernetes API conventions", () => {
  it("needs a bearer token", async () => {
    expect((await call("GET", BASE, undefined, { token: "wrong" })).status).toBe(401);
  });

  it("create, generation on spec changes only, optimistic concurrency, status subresource", async () => {
    const created = await call("POST", BASE, { ...policy({ action: "ALLOW" }), status: { x: 1 } });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: "p", namespace: "shop", generation: 1 });
    expect(created.body.status).toBeUndefined(); // status is not set by create
    expect((await call("POST", BASE, policy({}))).status).toBe(409);

    const rv = created.body.metadata.resourceVersion;
    const updated = await call("PUT", `${BASE}/p`, { ...created.body, spec: { action: "DENY" } });
    expect(updated.body.metadata.generation).toBe(2);
    expect(updated.body.metadata.resourceVersion).not.toBe(rv);
    const stale = await call("PUT", `${BASE}/p`, { ...created.body, spec: { action: "AUDIT" } });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe("Conflict");

    const patched = await call(
      "PATCH",
      `${BASE}/p/status`,
      { status: { observedGeneration: 2 }, spec: { action: "ALLOW" } },
      { contentType: "application/merge-patch+json" },
    );
    expect(patched.body.status).toEqual({ observedGeneration: 2 });
    expect(patched.body.spec).toEqual({ action: "DENY" }); // the status subresource changes status only
    expect(patched.body.metadata.generation).toBe(2);
    const main = await call(
      "PATCH",
      `${BASE}/p`,
      { status: { observedGeneration: 9 }, metadata: { labels: { a: "b" } } },
      {
        contentType: "application/merge-patch+json",
      },
    );
    expect(main.body.status).toEqual({ observedGeneration: 2 }); // the main resource leaves status alone
    expect(main.body.metadata.labels).toEqual({ a: "b" });
    expect(main.body.metadata.generation).toBe(2); // metadata changes do not bump it
    const uid = await call(
      "PATCH",
      `${BASE}/p/status`,
      { metadata: { uid: "other" }, status: {} },
      {
        contentType: "application/merge-patch+json",
      },
    );
    expect(uid.status).toBe(409);
    expect(
      (await call("PATCH", `${BASE}/p`, { spec: {} }, { contentType: "application/strategic-merge-patch+json" }))
        .status,
    ).toBe(415);
    expect((await call("DELETE", `${BASE}/p`)).status).toBe(200);
    expect((await call("GET", `${BASE}/p`)).status).toBe(404);
  });

  it("lists with a resourceVersion and pages; watches from it; 410 after compaction; bookmarks", async () => {
    for (const name of ["a", "b", "c"]) await call("POST", BASE, { ...policy({}), metadata: { name } });
    const page = await call("GET", `${BASE}?limit=2`);
    expect(page.body.kind).toBe("TrustgatePolicyList");
    expect(page.body.items).toHaveLength(2);
    const rest = await call("GET", `${BASE}?limit=2&continue=${page.body.metadata.continue}`);
    expect(rest.body.items.map((i: Obj) => i.metadata.name)).toEqual(["c"]);
    expect(rest.body.metadata.resourceVersion).toBe(page.body.metadata.resourceVersion);

    const from = page.body.metadata.resourceVersion;
    await call("DELETE", `${BASE}/a`);
    const events = await watch(`resourceVersion=${from}`, 1);
    expect(events[0]).toMatchObject({ type: "DELETED", object: { metadata: { name: "a" } } });

    api.compact();
    const gone = await watch(`resourceVersion=${from}`, 1);
    expect(gone[0]).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });

    const pending = watch(`resourceVersion=${api.revision}&allowWatchBookmarks=true`, 1);
    await new Promise((r) => setTimeout(r, 100));
    api.bookmark();
    const [bookmark] = await pending;
    expect(bookmark).toEqual({
      type: "BOOKMARK",
      object: {
        kind: "TrustgatePolicy",
        apiVersion: "trustgate.dev/v1alpha1",
        metadata: { resourceVersion: String(api.revision) },
      },
    });
  });
});
