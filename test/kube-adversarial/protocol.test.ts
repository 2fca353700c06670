/**
 * Adversarial probes of the list/watch protocol handling, at the policy source: KubernetesPolicySource against a
 * scripted plain-HTTP API server whose every answer a test chooses (event orders and failures the emulator in
 * test/support does not produce). What the source contributes (`policies()`) is what the loader puts in force.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { kubeApi } from "../../authz-server/src/kube/kube-api.js";
import { loadKubeConfig } from "../../authz-server/src/kube/kube-config.js";
import { KubernetesPolicySource } from "../../authz-server/src/kube/kubernetes-policy-source.js";
import { createLogger } from "../../authz-server/src/observability/logger.js";
import { type Obj, tgp, waitFor } from "../../authz-server/test/support/kube-policies.js";

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

interface Scripted {
  readonly url: string;
  readonly kubeconfigPath: string;
  readonly watches: Array<{ at: number; rv: string }>;
  readonly lists: Array<{ at: number; cont: string }>;
  list: Handler;
  watch: Handler;
  stop(): Promise<void>;
}

let scripted: Scripted | null = null;
let source: KubernetesPolicySource | null = null;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    console.log(
      "requests:",
      JSON.stringify({
        lists: scripted?.lists.slice(0, 6),
        watches: scripted?.watches.slice(0, 6),
        watchCount: scripted?.watches.length,
      }),
      "logs:",
      JSON.stringify(logs.slice(-3)),
    );
  logs.length = 0;
  await source?.stop();
  source = null;
  await scripted?.stop();
  scripted = null;
});

async function startScripted(): Promise<Scripted> {
  const open = new Set<ServerResponse>();
  const s: Scripted = {
    url: "",
    kubeconfigPath: "",
    watches: [],
    lists: [],
    list: (_q, res) => json(res, 200, listOf("100", [])),
    watch: (_q, res) => streamOpen(res),
    async stop() {
      for (const r of open) r.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    open.add(res);
    res.on("close", () => open.delete(res));
    if (url.searchParams.get("watch") === "true") {
      s.watches.push({ at: Date.now(), rv: url.searchParams.get("resourceVersion") ?? "" });
      s.watch(req, res, url);
    } else {
      s.lists.push({ at: Date.now(), cont: url.searchParams.get("continue") ?? "" });
      s.list(req, res, url);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), "kube-adv-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeFile(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  Object.assign(s, { url: `http://127.0.0.1:${port}`, kubeconfigPath });
  return s;
}

function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(text);
}

function listOf(rv: string, items: Obj[], cont?: string): Obj {
  return {
    kind: "TrustgatePolicyList",
    apiVersion: "trustgate.dev/v1alpha1",
    metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) },
    items,
  };
}

function streamOpen(res: ServerResponse, events: Obj[] = [], end = false): void {
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  res.flushHeaders();
  for (const e of events) res.write(`${JSON.stringify(e)}\n`);
  if (end) res.end();
}

function obj(ns: string, name: string, rv: string, spec: Obj, uid = `uid-${ns}-${name}`): Obj {
  const o = tgp(ns, name, spec);
  o.metadata = { ...o.metadata, uid, resourceVersion: rv, generation: 1 };
  return o;
}

const DENY = { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] };
const DENY2 = { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin", "/root"] } }] }] };

const logs: Obj[] = [];
function startSource(
  s: Scripted,
  extra: Partial<ConstructorParameters<typeof KubernetesPolicySource>[0]> = {},
): KubernetesPolicySource {
  const kc = loadKubeConfig(s.kubeconfigPath, "test");
  const sink = new Writable({
    write(chunk, _e, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  source = new KubernetesPolicySource({
    kubeConfig: kc,
    api: kubeApi(kc),
    namespaces: [],
    logger: createLogger("info", sink),
    onChange: () => {},
    ...extra,
  });
  source.start();
  return source;
}

const ids = (src: KubernetesPolicySource) =>
  src
    .policies()
    .policies.map((p) => p.id)
    .sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kube-adversarial: event orders a reflector must survive", () => {
  it("MODIFIED before ADDED, duplicated ADDED, DELETED of an object never seen", async () => {
    scripted = await startScripted();
    const s = scripted;
    s.watch = (_q, res) =>
      streamOpen(res, [
        { type: "MODIFIED", object: obj("a", "deny", "101", DENY) },
        { type: "ADDED", object: obj("a", "deny", "101", DENY) },
        { type: "ADDED", object: obj("a", "deny", "101", DENY) },
        { type: "DELETED", object: obj("a", "ghost", "102", DENY) },
        { type: "DELETED", object: obj("a", "deny", "103", DENY, "some-other-uid") },
      ]);
    const src = startSource(s);
    await waitFor(() => (ids(src).includes("a/deny") ? true : undefined), "a/deny in force");
    await sleep(200);
    // A DELETED carrying another uid is about another object: a/deny stays.
    expect(ids(src)).toEqual(["a/deny"]);
  });

  it("ERROR 410 mid-stream: relists, and a DENY deleted during the gap goes while one created comes", async () => {
    scripted = await startScripted();
    const s = scripted;
    let listN = 0;
    s.list = (_q, res) => {
      listN += 1;
      json(
        res,
        200,
        listN === 1 ? listOf("100", [obj("a", "old", "90", DENY)]) : listOf("200", [obj("a", "new", "150", DENY2)]),
      );
    };
    let watchN = 0;
    s.watch = (_q, res) => {
      watchN += 1;
      if (watchN === 1)
        streamOpen(
          res,
          [
            {
              type: "ERROR",
              object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
            },
          ],
          true,
        );
      else streamOpen(res);
    };
    const src = startSource(s);
    await waitFor(() => (ids(src).join() === "a/new" ? true : undefined), "relist applied", 5000);
    await waitFor(
      () => (s.watches.at(-1)?.rv === "200" ? true : undefined),
      "watch resumed from the relist's resourceVersion",
    );
  });

  it("HTTP 410 on a watch request (not an ERROR event) relists", async () => {
    scripted = await startScripted();
    const s = scripted;
    let listN = 0;
    s.list = (_q, res) => {
      listN += 1;
      json(res, 200, listN === 1 ? listOf("100", []) : listOf("300", [obj("a", "deny", "250", DENY)]));
    };
    s.watch = (_q, res, url) =>
      url.searchParams.get("resourceVersion") === "100"
        ? json(res, 410, { kind: "Status", code: 410, reason: "Gone", message: "too old" })
        : streamOpen(res);
    const src = startSource(s);
    await waitFor(() => (ids(src).join() === "a/deny" ? true : undefined), "relist after HTTP 410", 5000);
  });

  it("an expired continue token (410 on page 2) restarts the list from the beginning, keeping the old state meanwhile", async () => {
    scripted = await startScripted();
    const s = scripted;
    let expired = true;
    s.list = (_q, res, url) => {
      const cont = url.searchParams.get("continue");
      if (!cont) return json(res, 200, listOf("100", [obj("a", "deny", "90", DENY)], "tok"));
      if (expired) {
        expired = false;
        return json(res, 410, {
          kind: "Status",
          code: 410,
          reason: "Expired",
          message: "The provided continue parameter is too old",
        });
      }
      json(res, 200, listOf("100", [obj("b", "deny", "95", DENY2)]));
    };
    const src = startSource(s, { minBackoffMs: 50 });
    await waitFor(() => (src.ready() ? true : undefined), "ready", 5000);
    await sleep(100);
    expect(ids(src)).toEqual(["a/deny", "b/deny"]);
    // The restart began with a fresh first page (no continue), not by retrying the expired token.
    const conts = s.lists.map((l) => l.cont);
    expect(conts).toEqual(["", "tok", "", "tok"]);
  });

  it("a watch that ends cleanly at once, every time, does not become a busy loop", async () => {
    scripted = await startScripted();
    const s = scripted;
    s.watch = (_q, res) => streamOpen(res, [], true);
    startSource(s);
    await sleep(3000);
    console.log("empty clean closes: watch requests in 3 s:", s.watches.length);
    expect(s.watches.length).toBeLessThan(15);
  });

  it("a watch that ends cleanly at once after one BOOKMARK (same resourceVersion) does not become a busy loop", async () => {
    scripted = await startScripted();
    const s = scripted;
    s.watch = (_q, res) =>
      streamOpen(
        res,
        [
          {
            type: "BOOKMARK",
            object: {
              kind: "TrustgatePolicy",
              apiVersion: "trustgate.dev/v1alpha1",
              metadata: { resourceVersion: "100" },
            },
          },
        ],
        true,
      );
    startSource(s);
    await sleep(3000);
    console.log("bookmark-then-close: watch requests in 3 s:", s.watches.length);
    // list-watch.ts counts the bookmark as an event, so its "ended at once, saying nothing" backoff never applies.
    expect(s.watches.length).toBeLessThan(15);
  });

  it("a terminating DENY (deletionTimestamp, finalizers) stays in force until DELETED", async () => {
    scripted = await startScripted();
    const s = scripted;
    s.list = (_q, res) => json(res, 200, listOf("100", [obj("a", "deny", "90", DENY)]));
    const terminating = obj("a", "deny", "101", DENY);
    terminating.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
    terminating.metadata.finalizers = ["x/y"];
    s.watch = (_q, res) => streamOpen(res, [{ type: "MODIFIED", object: terminating }]);
    const src = startSource(s);
    await waitFor(() => (src.ready() ? true : undefined), "ready");
    await sleep(300);
    expect(ids(src)).toEqual(["a/deny"]);
  });

  it("an event for an object with a spec key `__proto__` (top level) is refused without harm", async () => {
    scripted = await startScripted();
    const s = scripted;
    s.list = (_q, res) => json(res, 200, listOf("100", [obj("a", "deny", "90", DENY)]));
    const evil = JSON.parse(
      `{"type":"MODIFIED","object":{"apiVersion":"trustgate.dev/v1alpha1","kind":"TrustgatePolicy","metadata":{"name":"deny","namespace":"a","uid":"uid-a-deny","resourceVersion":"101","generation":2,"__proto__":{"namespace":"b"}},"spec":{"action":"DENY","__proto__":{"action":"ALLOW"},"rules":[{"to":[{"operation":{"paths":["/admin"],"__proto__":{"paths":["/nothing"]}}}]}]}}}`,
    );
    s.watch = (_q, res) => streamOpen(res, [evil]);
    const src = startSource(s);
    await waitFor(() => (src.ready() ? true : undefined), "ready");
    await sleep(300);
    const pol = src.policies().policies;
    expect(pol.map((p) => p.id)).toEqual(["a/deny"]);
    expect(pol[0]!.action).toBe("DENY");
    expect(({} as Obj).action).toBeUndefined();
  });
});
