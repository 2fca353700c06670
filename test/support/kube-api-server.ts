/**
 * A real HTTPS server that speaks the part of the Kubernetes API trustgate's `kubernetes` mapping uses, so the
 * mapping is tested through `@kubernetes/client-node` end to end (kubeconfig, TLS, bearer token, JSON, chunked watch)
 * rather than against a mock of the client library:
 *  - `GET /api/v1/pods` — PodList with `metadata.resourceVersion`, paginated with `limit` / `continue`;
 *  - `GET /api/v1/pods?watch=true&resourceVersion=N` — a chunked stream of ADDED / MODIFIED / DELETED events newer
 *    than N, one JSON object per line, kept open for new events; a compacted N gets an ERROR event with a 410 Status;
 *  - `GET /api/v1/namespaces/<ns>/pods/<name>` — one pod, or a 404 Status.
 * Every request needs the bearer token from the generated kubeconfig (401 otherwise).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestCa } from "./svid-ca.js";

export interface PodSpec {
  namespace: string;
  name: string;
  serviceAccountName?: string;
  labels?: Record<string, string>;
}

interface StoredPod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; labels: Record<string, string> };
  spec: { serviceAccountName?: string; containers: Array<{ name: string; image: string }> };
  status: { phase: string };
}

interface WatchEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: StoredPod;
}

export interface KubeApiServer {
  readonly url: string;
  readonly kubeconfigPath: string;
  /** Every request as `METHOD path?query`, for assertions. */
  readonly requests: string[];
  /** Open watch streams right now. */
  readonly openWatches: number;
  addPod(pod: PodSpec, options?: { silent?: boolean }): void;
  updatePod(pod: PodSpec): void;
  deletePod(namespace: string, name: string): void;
  /** Ends every open watch (as an API server does when a watch times out). */
  closeWatches(): void;
  /** Forgets event history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void;
  stop(): Promise<void>;
}

function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export async function startKubeApiServer(options: { token?: string } = {}): Promise<KubeApiServer> {
  const token = options.token ?? "kube-test-token";
  const ca = await TestCa.create("kube.test");
  const serving = await ca.issue("", { subject: "CN=kube-apiserver", dnsNames: ["localhost"] });
  const pods = new Map<string, StoredPod>();
  const history: WatchEvent[] = [];
  const watchers = new Set<{ res: ServerResponse; from: number }>();
  const requests: string[] = [];
  let revision = 100;
  /** Watches from before this resourceVersion get 410 Gone. */
  let compactedAt = 0;
  let uid = 0;

  const key = (ns: string, name: string) => `${ns}/${name}`;

  function build(spec: PodSpec): StoredPod {
    uid += 1;
    revision += 1;
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: spec.name,
        namespace: spec.namespace,
        uid: `00000000-0000-4000-8000-${String(uid).padStart(12, "0")}`,
        resourceVersion: String(revision),
        labels: spec.labels ?? {},
      },
      spec: {
        ...(spec.serviceAccountName !== undefined ? { serviceAccountName: spec.serviceAccountName } : {}),
        containers: [{ name: spec.name.split("-")[0]!, image: `registry.example/${spec.name}:1` }],
      },
      status: { phase: "Running" },
    };
  }

  function emit(type: WatchEvent["type"], object: StoredPod): void {
    const event: WatchEvent = { rv: Number(object.metadata.resourceVersion), type, object };
    history.push(event);
    for (const w of watchers) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  function list(url: URL, res: ServerResponse): void {
    const all = [...pods.values()].sort((a, b) =>
      key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)),
    );
    const limit = Number(url.searchParams.get("limit") ?? "0") || all.length;
    const offset = Number(url.searchParams.get("continue") ?? "0");
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    sendJson(res, 200, {
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: String(revision), ...(next ? { continue: next } : {}) },
      items,
    });
  }

  function watch(url: URL, res: ServerResponse): void {
    const from = Number(url.searchParams.get("resourceVersion") || "0");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders(); // as the API server does: the client sees the watch open before any event
    if (from !== 0 && from < compactedAt) {
      res.end(
        `${JSON.stringify({ type: "ERROR", object: status(410, "Expired", `too old resource version: ${from}`) })}\n`,
      );
      return;
    }
    if (from === 0) for (const pod of pods.values()) res.write(`${JSON.stringify({ type: "ADDED", object: pod })}\n`);
    else for (const e of history) if (e.rv > from) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    const watcher = { res, from };
    watchers.add(watcher);
    res.on("close", () => watchers.delete(watcher));
  }

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://localhost");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${token}`) {
      return sendJson(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    if (req.method !== "GET") return sendJson(res, 405, status(405, "MethodNotAllowed", "read-only test server"));
    if (url.pathname === "/api/v1/pods") {
      return url.searchParams.get("watch") === "true" ? watch(url, res) : list(url, res);
    }
    const one = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
    if (one) {
      const pod = pods.get(key(one[1]!, one[2]!));
      return pod ? sendJson(res, 200, pod) : sendJson(res, 404, status(404, "NotFound", `pods "${one[2]}" not found`));
    }
    sendJson(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const dir = await mkdtemp(join(tmpdir(), "trustgate-kube-"));
  const kubeconfigPath = join(dir, "kubeconfig.yaml");
  await writeFile(
    kubeconfigPath,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: test",
      "  cluster:",
      `    server: ${url}`,
      `    certificate-authority-data: ${Buffer.from(ca.certPem).toString("base64")}`,
      "    tls-server-name: localhost",
      "users:",
      "- name: trustgate",
      "  user:",
      `    token: ${token}`,
      "contexts:",
      "- name: test",
      "  context: {cluster: test, user: trustgate}",
      "current-context: test",
      "",
    ].join("\n"),
  );

  return {
    url,
    kubeconfigPath,
    requests,
    get openWatches() {
      return watchers.size;
    },
    addPod(spec, opts = {}) {
      const pod = build(spec);
      pods.set(key(spec.namespace, spec.name), pod);
      if (opts.silent)
        history.push({ rv: revision, type: "ADDED", object: pod }); // in history, not pushed live
      else emit("ADDED", pod);
    },
    updatePod(spec) {
      const pod = build(spec);
      pods.set(key(spec.namespace, spec.name), pod);
      emit("MODIFIED", pod);
    },
    deletePod(namespace, name) {
      const existing = pods.get(key(namespace, name));
      if (!existing) return;
      pods.delete(key(namespace, name));
      revision += 1;
      emit("DELETED", { ...existing, metadata: { ...existing.metadata, resourceVersion: String(revision) } });
    },
    closeWatches() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
    compact() {
      history.length = 0;
      compactedAt = revision;
    },
    async stop() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
