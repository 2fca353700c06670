/**
 * A real HTTPS server that speaks the part of the Kubernetes API trustgate uses, written to the API conventions
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/) so that trustgate is tested through
 * `@kubernetes/client-node` end to end (kubeconfig, TLS, bearer token, JSON, chunked watch) rather than against a
 * mock of the client library. Resources: core/v1 pods, trustgate.dev/v1alpha1 trustgatepolicies (status
 * subresource) and coordination.k8s.io/v1 leases.
 *
 *  - list: `GET <collection>` (cluster-wide or one namespace) → `<Kind>List` with `metadata.resourceVersion`,
 *    paginated with `limit` / `continue`;
 *  - watch: `GET <collection>?watch=true&resourceVersion=N` → a chunked stream of ADDED / MODIFIED / DELETED events
 *    newer than N, one JSON object per line, kept open for new events. Without N (or N=0) it starts with a
 *    synthetic ADDED for every object. A compacted N gets an ERROR event carrying a 410 Expired Status and the
 *    stream ends. With `allowWatchBookmarks=true`, BOOKMARK events (an object with only
 *    `metadata.resourceVersion`) are sent on `bookmark()` and before a `timeoutSeconds` watch ends;
 *  - get / create (POST, 409 AlreadyExists) / update (PUT, 409 Conflict on a stale `metadata.resourceVersion`) /
 *    delete, and PATCH with `application/merge-patch+json` (RFC 7386) or `application/json-patch+json` (RFC 6902);
 *  - the status subresource (`…/<name>/status`): GET, PUT and PATCH change only `status`; writes to the main
 *    resource leave `status` alone. `metadata.generation` starts at 1 and goes up when anything but metadata and
 *    status changes. One resourceVersion counter runs across all resources, as etcd's revision does.
 * Every request needs one of the bearer tokens (401 otherwise); `log` records who sent what.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { TestCa } from "./svid-ca.js";

// biome-ignore lint/suspicious/noExplicitAny: stored objects are free-form JSON, as in the real API server
type Obj = Record<string, any>;

export type ResourceName = "pods" | "trustgatepolicies" | "leases";

interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly statusSubresource: boolean;
}

const RESOURCES: Record<ResourceName, ResourceType> = {
  pods: { group: "", version: "v1", kind: "Pod", statusSubresource: true },
  trustgatepolicies: { group: "trustgate.dev", version: "v1alpha1", kind: "TrustgatePolicy", statusSubresource: true },
  leases: { group: "coordination.k8s.io", version: "v1", kind: "Lease", statusSubresource: false },
};

function apiVersionOf(t: ResourceType): string {
  return t.group === "" ? t.version : `${t.group}/${t.version}`;
}

export interface PodSpec {
  namespace: string;
  name: string;
  serviceAccountName?: string;
  labels?: Record<string, string>;
  /** status.podIP (and podIPs). */
  ip?: string;
  hostNetwork?: boolean;
  phase?: string;
}

export interface RequestRecord {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  /** The user the bearer token belongs to ("" when unauthenticated). */
  readonly user: string;
  readonly contentType: string;
  readonly body: unknown;
  readonly status: number;
}

interface WatchEvent {
  readonly rv: number;
  readonly resource: ResourceName;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Obj;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly resource: ResourceName;
  readonly namespace: string | null;
  readonly bookmarks: boolean;
}

export interface KubeApiServer {
  readonly url: string;
  /** kubeconfig with the first user's token. */
  readonly kubeconfigPath: string;
  /** A kubeconfig for another of the server's users (see `users`). */
  kubeconfigFor(user: string): Promise<string>;
  /** Every request as `METHOD path?query`, as it arrives, for assertions. */
  readonly requests: string[];
  /** Every request with its user, content type, body and answer. */
  readonly log: RequestRecord[];
  /** Open watch streams right now. */
  readonly openWatches: number;
  /** TLS connections accepted so far, and how many of them resumed an earlier session (an abbreviated handshake). */
  readonly tlsConnections: number;
  readonly tlsResumed: number;
  /** Open watch streams of one resource right now. */
  watchesOf(resource: ResourceName): number;
  /** Current resourceVersion (the revision counter). */
  readonly revision: number;
  /** Answer requests matching this (e.g. lists) with an error status, or hold them until `release`. */
  failWhen(match: ((method: string, url: URL, user: string) => boolean) | null, status?: number): void;
  holdWhen(match: ((method: string, url: URL) => boolean) | null): void;

  addPod(pod: PodSpec, options?: { silent?: boolean }): void;
  updatePod(pod: PodSpec): void;
  deletePod(namespace: string, name: string): void;

  /** Creates an object as a client would (POST); returns the stored copy. */
  create(resource: ResourceName, object: Obj): Obj;
  /** Replaces an object's spec/metadata as `kubectl apply` would (status untouched). */
  update(resource: ResourceName, object: Obj): Obj;
  remove(resource: ResourceName, namespace: string, name: string): void;
  get(resource: ResourceName, namespace: string, name: string): Obj | undefined;
  list(resource: ResourceName): Obj[];

  /** Ends every open watch (as an API server does when a watch times out). */
  closeWatches(): void;
  /** Forgets event history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void;
  /** Sends a BOOKMARK to every watch that asked for them. */
  bookmark(): void;
  stop(): Promise<void>;
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch: add, replace, remove, test (what clients send to the Kubernetes API). */
function jsonPatch(target: Obj, ops: unknown): { ok: true; value: Obj } | { ok: false; error: string } {
  if (!Array.isArray(ops)) return { ok: false, error: "a JSON patch is a list of operations" };
  const doc = structuredClone(target);
  for (const op of ops as Obj[]) {
    const parts = String(op.path ?? "")
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop();
    if (last === undefined) return { ok: false, error: `bad path ${op.path}` };
    let parent: unknown = doc;
    for (const p of parts) parent = isObj(parent) || Array.isArray(parent) ? (parent as Obj)[p] : undefined;
    if (!isObj(parent) && !Array.isArray(parent)) return { ok: false, error: `no parent for ${op.path}` };
    const container = parent as Obj;
    switch (op.op) {
      case "add":
      case "replace":
        if (Array.isArray(parent) && last === "-") parent.push(op.value);
        else container[last] = op.value;
        break;
      case "remove":
        if (!(last in container)) return { ok: false, error: `nothing at ${op.path}` };
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete container[last];
        break;
      case "test":
        if (JSON.stringify(container[last]) !== JSON.stringify(op.value))
          return { ok: false, error: `test failed at ${op.path}` };
        break;
      default:
        return { ok: false, error: `unsupported op ${op.op}` };
    }
  }
  return { ok: true, value: doc };
}

/** Everything but metadata and status: what a change of bumps metadata.generation. */
function specPart(o: Obj): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

interface ParsedPath {
  resource: ResourceName;
  namespace: string | null;
  name: string | null;
  subresource: string | null;
}

function parsePath(pathname: string): ParsedPath | null {
  const parts = pathname.split("/").filter(Boolean);
  let rest: string[];
  let group: string;
  let version: string;
  if (parts[0] === "api") {
    group = "";
    version = parts[1] ?? "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis") {
    group = parts[1] ?? "";
    version = parts[2] ?? "";
    rest = parts.slice(3);
  } else return null;
  let namespace: string | null = null;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1]!);
    rest = rest.slice(2);
  }
  const plural = rest[0] as ResourceName | undefined;
  if (plural === undefined || !(plural in RESOURCES)) return null;
  const type = RESOURCES[plural];
  if (type.group !== group || type.version !== version) return null;
  return {
    resource: plural,
    namespace,
    name: rest[1] !== undefined ? decodeURIComponent(rest[1]) : null,
    subresource: rest[2] ?? null,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startKubeApiServer(
  options: { token?: string; users?: Record<string, string> } = {},
): Promise<KubeApiServer> {
  /** token → user */
  const users = new Map<string, string>(
    Object.entries(options.users ?? { trustgate: options.token ?? "kube-test-token" }).map(([user, token]) => [
      token,
      user,
    ]),
  );
  const ca = await TestCa.create("kube.test");
  const serving = await ca.issue("", { subject: "CN=kube-apiserver", dnsNames: ["localhost"] });
  const store = new Map<ResourceName, Map<string, Obj>>(
    (Object.keys(RESOURCES) as ResourceName[]).map((r) => [r, new Map()]),
  );
  const history: WatchEvent[] = [];
  const watchers = new Set<Watcher>();
  const requests: string[] = [];
  const log: RequestRecord[] = [];
  let revision = 100;
  /** Watches from before this resourceVersion get 410 Gone. */
  let compactedAt = 0;
  let failMatch: ((method: string, url: URL, user: string) => boolean) | null = null;
  let failStatus = 500;
  let holdMatch: ((method: string, url: URL) => boolean) | null = null;
  const held: Array<() => void> = [];

  const key = (ns: string, name: string) => `${ns}/${name}`;
  const objects = (r: ResourceName) => store.get(r)!;

  function inScope(o: Obj, namespace: string | null): boolean {
    return namespace === null || o.metadata?.namespace === namespace;
  }

  function emit(resource: ResourceName, type: WatchEvent["type"], object: Obj): void {
    const event: WatchEvent = { rv: Number(object.metadata.resourceVersion), resource, type, object };
    history.push(event);
    for (const w of watchers) {
      if (w.resource === resource && inScope(object, w.namespace)) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  function stamp(resource: ResourceName, o: Obj, namespace: string): Obj {
    revision += 1;
    const type = RESOURCES[resource];
    const stored: Obj = {
      ...structuredClone(o),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...structuredClone(o.metadata ?? {}),
        namespace,
        uid: randomUUID(),
        resourceVersion: String(revision),
        generation: 1,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      },
    };
    // With a status subresource, status is not set by create.
    if (type.statusSubresource && resource !== "pods") delete stored.status;
    return stored;
  }

  function doCreate(resource: ResourceName, o: Obj, namespace: string): { code: number; body: Obj } {
    const name = o.metadata?.name;
    if (typeof name !== "string" || name === "")
      return { code: 422, body: status(422, "Invalid", "metadata.name: Required value") };
    if (objects(resource).has(key(namespace, name))) {
      return { code: 409, body: status(409, "AlreadyExists", `${resource} "${name}" already exists`) };
    }
    const stored = stamp(resource, o, namespace);
    objects(resource).set(key(namespace, name), stored);
    emit(resource, "ADDED", stored);
    return { code: 201, body: stored };
  }

  /** Writes `next` over `current`: main resource (status kept) or the status subresource (only status taken). */
  function doWrite(
    resource: ResourceName,
    current: Obj,
    next: Obj,
    subresource: string | null,
  ): { code: number; body: Obj } {
    const uid = next.metadata?.uid;
    if (uid !== undefined && uid !== current.metadata.uid) {
      return {
        code: 409,
        body: status(
          409,
          "Conflict",
          `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid}`,
        ),
      };
    }
    const wanted = next.metadata?.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
      return {
        code: 409,
        body: status(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${resource} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
        ),
      };
    }
    const type = RESOURCES[resource];
    let stored: Obj;
    if (subresource === "status") {
      stored = { ...current, status: structuredClone(next.status) };
      if (next.status === undefined) delete stored.status;
    } else {
      stored = {
        ...structuredClone(next),
        apiVersion: current.apiVersion,
        kind: current.kind,
        metadata: {
          ...structuredClone(next.metadata ?? {}),
          name: current.metadata.name,
          namespace: current.metadata.namespace,
          uid: current.metadata.uid,
          creationTimestamp: current.metadata.creationTimestamp,
          generation: current.metadata.generation,
        },
      };
      if (type.statusSubresource) {
        if (current.status === undefined) delete stored.status;
        else stored.status = current.status;
      }
      if (specPart(stored) !== specPart(current)) stored.metadata.generation = current.metadata.generation + 1;
    }
    if (JSON.stringify(stored) === JSON.stringify(current)) return { code: 200, body: current }; // a no-op write
    revision += 1;
    stored.metadata = { ...stored.metadata, resourceVersion: String(revision) };
    objects(resource).set(key(current.metadata.namespace, current.metadata.name), stored);
    emit(resource, "MODIFIED", stored);
    return { code: 200, body: stored };
  }

  function doDelete(resource: ResourceName, namespace: string, name: string): Obj | undefined {
    const existing = objects(resource).get(key(namespace, name));
    if (!existing) return undefined;
    objects(resource).delete(key(namespace, name));
    revision += 1;
    const gone = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(revision) } };
    emit(resource, "DELETED", gone);
    return gone;
  }

  function listResponse(resource: ResourceName, namespace: string | null, url: URL, res: ServerResponse): void {
    const all = [...objects(resource).values()]
      .filter((o) => inScope(o, namespace))
      .sort((a, b) =>
        key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)),
      );
    const limit = Number(url.searchParams.get("limit") ?? "0") || all.length;
    const token = url.searchParams.get("continue") ?? "";
    const [rv, offsetText] = token === "" ? [String(revision), "0"] : token.split(":");
    if (token !== "" && Number(rv) < compactedAt) {
      sendJson(res, 410, status(410, "Expired", "The provided continue parameter is too old"));
      return;
    }
    const offset = Number(offsetText);
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? `${rv}:${offset + limit}` : undefined;
    const type = RESOURCES[resource];
    sendJson(res, 200, {
      kind: `${type.kind}List`,
      apiVersion: apiVersionOf(type),
      metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) },
      items,
    });
  }

  function watch(resource: ResourceName, namespace: string | null, url: URL, res: ServerResponse): void {
    const from = Number(url.searchParams.get("resourceVersion") || "0");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders(); // as the API server does: the client sees the watch open before any event
    if (from !== 0 && from < compactedAt) {
      res.end(
        `${JSON.stringify({ type: "ERROR", object: status(410, "Expired", `too old resource version: ${from} (${compactedAt})`) })}\n`,
      );
      return;
    }
    if (from === 0) {
      for (const o of objects(resource).values())
        if (inScope(o, namespace)) res.write(`${JSON.stringify({ type: "ADDED", object: o })}\n`);
    } else {
      for (const e of history) {
        if (e.rv > from && e.resource === resource && inScope(e.object, namespace))
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const watcher: Watcher = {
      res,
      resource,
      namespace,
      bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
    };
    watchers.add(watcher);
    const timeout = Number(url.searchParams.get("timeoutSeconds") ?? "0");
    let timer: NodeJS.Timeout | undefined;
    if (timeout > 0) {
      timer = setTimeout(() => {
        if (watcher.bookmarks) res.write(`${JSON.stringify(bookmarkEvent(resource))}\n`);
        watchers.delete(watcher);
        res.end();
      }, timeout * 1000);
    }
    res.on("close", () => {
      clearTimeout(timer);
      watchers.delete(watcher);
    });
  }

  function bookmarkEvent(resource: ResourceName): Obj {
    const type = RESOURCES[resource];
    return {
      type: "BOOKMARK",
      object: { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(revision) } },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown): Promise<number> {
    const method = req.method ?? "GET";
    const path = parsePath(url.pathname);
    if (!path) {
      sendJson(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return 404;
    }
    const { resource, namespace, name, subresource } = path;
    const type = RESOURCES[resource];
    const reply = (code: number, body: Obj) => {
      sendJson(res, code, body);
      return code;
    };
    if (subresource !== null && (subresource !== "status" || !type.statusSubresource || name === null)) {
      return reply(404, status(404, "NotFound", `no subresource ${subresource}`));
    }
    if (name === null) {
      if (method === "GET") {
        if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
          watch(resource, namespace, url, res);
        } else listResponse(resource, namespace, url, res);
        return 200;
      }
      if (method === "POST") {
        if (namespace === null) return reply(405, status(405, "MethodNotAllowed", "create needs a namespace"));
        const created = doCreate(resource, isObj(body) ? body : {}, namespace);
        return reply(created.code, created.body);
      }
      return reply(405, status(405, "MethodNotAllowed", `${method} on a collection`));
    }
    if (namespace === null) return reply(404, status(404, "NotFound", "namespaced resource"));
    const current = objects(resource).get(key(namespace, name));
    const notFound = () => reply(404, status(404, "NotFound", `${resource} "${name}" not found`));
    switch (method) {
      case "GET":
        return current ? reply(200, current) : notFound();
      case "DELETE": {
        const gone = doDelete(resource, namespace, name);
        return gone ? reply(200, gone) : notFound();
      }
      case "PUT": {
        if (!current) return notFound();
        const written = doWrite(resource, current, isObj(body) ? body : {}, subresource);
        return reply(written.code, written.body);
      }
      case "PATCH": {
        if (!current) return notFound();
        const contentType = String(req.headers["content-type"] ?? "")
          .split(";")[0]!
          .trim();
        const patch = body;
        let next: Obj;
        if (contentType === "application/merge-patch+json") next = mergePatch(current, patch) as Obj;
        else if (contentType === "application/json-patch+json") {
          const patched = jsonPatch(current, patch);
          if (!patched.ok) return reply(422, status(422, "Invalid", patched.error));
          next = patched.value;
        } else {
          return reply(415, status(415, "UnsupportedMediaType", `the body of the request was in an unknown format`));
        }
        // A patch that does not name a resourceVersion has no precondition.
        if (isObj(patch) && isObj(patch.metadata) && patch.metadata.resourceVersion !== undefined) {
          next.metadata.resourceVersion = patch.metadata.resourceVersion;
        } else next.metadata = { ...next.metadata, resourceVersion: current.metadata.resourceVersion };
        const written = doWrite(resource, current, next, subresource);
        return reply(written.code, written.body);
      }
      default:
        return reply(405, status(405, "MethodNotAllowed", method));
    }
  }

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://localhost");
    const method = req.method ?? "GET";
    const auth = String(req.headers.authorization ?? "");
    const user = auth.startsWith("Bearer ") ? (users.get(auth.slice(7)) ?? "") : "";
    const contentType = String(req.headers["content-type"] ?? "");
    requests.push(`${method} ${url.pathname}${url.search}`);
    const record = (code: number, body: unknown) => {
      log.push({ method, url: `${url.pathname}${url.search}`, user, contentType, body, status: code });
    };
    if (user === "") {
      record(401, undefined);
      return sendJson(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    const run = async () => {
      if (holdMatch?.(method, url)) await new Promise<void>((resolve) => held.push(resolve));
      if (failMatch?.(method, url, user)) {
        record(failStatus, undefined);
        return sendJson(res, failStatus, status(failStatus, "InternalError", "injected failure"));
      }
      const text = method === "GET" || method === "DELETE" ? "" : await readBody(req);
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        record(400, undefined);
        return sendJson(res, 400, status(400, "BadRequest", "invalid JSON"));
      }
      const code = await handle(req, res, url, body);
      record(code, body);
    };
    run().catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, status(500, "InternalError", err.message));
    });
  });
  let tlsConnections = 0;
  let tlsResumed = 0;
  server.on("secureConnection", (socket: TLSSocket) => {
    tlsConnections += 1;
    if (socket.isSessionReused()) tlsResumed += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const dir = await mkdtemp(join(tmpdir(), "trustgate-kube-"));
  const tokenOf = (user: string) => [...users].find(([, u]) => u === user)?.[0];
  async function kubeconfigFor(user: string): Promise<string> {
    const token = tokenOf(user);
    if (token === undefined) throw new Error(`no user ${user}`);
    const path = join(dir, `kubeconfig-${user}.yaml`);
    await writeFile(
      path,
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
        `- name: ${user}`,
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: test",
        `  context: {cluster: test, user: ${user}}`,
        "current-context: test",
        "",
      ].join("\n"),
    );
    return path;
  }
  const kubeconfigPath = await kubeconfigFor([...users.values()][0]!);

  function pod(spec: PodSpec): Obj {
    return {
      metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels ?? {} },
      spec: {
        ...(spec.serviceAccountName !== undefined ? { serviceAccountName: spec.serviceAccountName } : {}),
        ...(spec.hostNetwork ? { hostNetwork: true } : {}),
        containers: [{ name: spec.name.split("-")[0]!, image: `registry.example/${spec.name}:1` }],
      },
      status: {
        phase: spec.phase ?? "Running",
        ...(spec.ip ? { podIP: spec.ip, podIPs: [{ ip: spec.ip }] } : {}),
      },
    };
  }

  return {
    url,
    kubeconfigPath,
    kubeconfigFor,
    requests,
    log,
    get openWatches() {
      return watchers.size;
    },
    get tlsConnections() {
      return tlsConnections;
    },
    get tlsResumed() {
      return tlsResumed;
    },
    watchesOf(resource) {
      return [...watchers].filter((w) => w.resource === resource).length;
    },
    get revision() {
      return revision;
    },
    failWhen(match, code = 500) {
      failMatch = match;
      failStatus = code;
    },
    holdWhen(match) {
      holdMatch = match;
      if (match === null) for (const release of held.splice(0)) release();
    },
    addPod(spec, opts = {}) {
      const stored = stamp("pods", pod(spec), spec.namespace);
      objects("pods").set(key(spec.namespace, spec.name), stored);
      if (opts.silent) history.push({ rv: revision, resource: "pods", type: "ADDED", object: stored });
      else emit("pods", "ADDED", stored);
    },
    updatePod(spec) {
      const current = objects("pods").get(key(spec.namespace, spec.name));
      if (!current) throw new Error(`no pod ${spec.namespace}/${spec.name}`);
      // One event for what a user (labels) and the kubelet (status) would write separately.
      const next = pod(spec);
      revision += 1;
      const stored = {
        ...current,
        spec: next.spec,
        status: next.status,
        metadata: { ...current.metadata, labels: next.metadata.labels, resourceVersion: String(revision) },
      };
      objects("pods").set(key(spec.namespace, spec.name), stored);
      emit("pods", "MODIFIED", stored);
    },
    deletePod(namespace, name) {
      doDelete("pods", namespace, name);
    },
    create(resource, object) {
      const namespace = object.metadata?.namespace ?? "default";
      const created = doCreate(resource, object, namespace);
      if (created.code !== 201) throw new Error(`create failed: ${created.body.message}`);
      return created.body;
    },
    update(resource, object) {
      const current = objects(resource).get(key(object.metadata.namespace, object.metadata.name));
      if (!current) throw new Error(`no ${resource} ${object.metadata.namespace}/${object.metadata.name}`);
      const next = {
        ...structuredClone(object),
        metadata: { ...current.metadata, ...structuredClone(object.metadata) },
      };
      delete next.metadata.resourceVersion;
      const written = doWrite(resource, current, next, null);
      if (written.code !== 200) throw new Error(`update failed: ${written.body.message}`);
      return written.body;
    },
    remove(resource, namespace, name) {
      doDelete(resource, namespace, name);
    },
    get(resource, namespace, name) {
      const o = objects(resource).get(key(namespace, name));
      return o === undefined ? undefined : structuredClone(o);
    },
    list(resource) {
      return [...objects(resource).values()].map((o) => structuredClone(o));
    },
    closeWatches() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
    compact() {
      history.length = 0;
      compactedAt = revision;
    },
    bookmark() {
      for (const w of watchers) if (w.bookmarks) w.res.write(`${JSON.stringify(bookmarkEvent(w.resource))}\n`);
    },
    async stop() {
      for (const release of held.splice(0)) release();
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
