/**
 * The admission webhook over real HTTPS, as the API server calls it: an AdmissionReview (admission.k8s.io/v1) for a
 * TrustgatePolicy create or update, verified against the serving certificate's CA. An invalid policy is denied with
 * the loader's message; a valid one is allowed (with lint warnings, which kubectl prints); anything that is not an
 * AdmissionReview gets a 400. A rotated serving certificate is picked up without a restart.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCa } from "../../test/support/svid-ca.js";
import { WebhookListener } from "../src/http/webhook-listener.js";
import { createLogger } from "../src/observability/logger.js";
import { allowPath, type Obj, tgp } from "./support/kube-policies.js";
import { runCli } from "./support/process.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let ca: TestCa;
let dir: string;
let server: TestServer;

beforeAll(async () => {
  ca = await TestCa.create("webhook.test");
  const serving = await ca.issue("", { subject: "CN=trustgate-webhook", dnsNames: ["localhost"] });
  dir = await mkdtemp(join(tmpdir(), "trustgate-webhook-"));
  await writeFile(join(dir, "tls.crt"), serving.certPem);
  await writeFile(join(dir, "tls.key"), serving.keyPem);
  server = await startTestServer(
    {},
    {
      policies: {
        kubernetes: {
          webhook: { addr: "127.0.0.1:0", certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") },
        },
      },
    },
  );
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function post(port: number, body: unknown, caPem = ca.certPem): Promise<{ status: number; body: Obj }> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/validate?timeout=10s",
        method: "POST",
        ca: caPem,
        servername: "localhost",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
        );
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

function review(object: Obj, operation = "CREATE"): Obj {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: randomUUID(),
      kind: { group: "trustgate.dev", version: "v1alpha1", kind: "TrustgatePolicy" },
      resource: { group: "trustgate.dev", version: "v1alpha1", resource: "trustgatepolicies" },
      requestKind: { group: "trustgate.dev", version: "v1alpha1", kind: "TrustgatePolicy" },
      requestResource: { group: "trustgate.dev", version: "v1alpha1", resource: "trustgatepolicies" },
      name: object.metadata?.name,
      namespace: object.metadata?.namespace,
      operation,
      userInfo: { username: "alice", groups: ["system:authenticated"] },
      object,
      oldObject: operation === "UPDATE" ? object : null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  };
}

const port = () => Number(server.server.kubernetes.webhookAddress()!.split(":").pop());

describe("admission webhook (HTTPS, AdmissionReview v1)", () => {
  it("denies an invalid TrustgatePolicy with the loader's message", async () => {
    const r = review(
      tgp("shop", "deny-admin", {
        action: "DENY",
        rules: [
          {
            to: [{ operation: { ports: ["99999"] } }],
            when: [{ key: "destination.namespace", values: ["x"] }],
          },
        ],
      }),
    );
    const { status, body } = await post(port(), r);
    expect(status).toBe(200);
    expect(body.apiVersion).toBe("admission.k8s.io/v1");
    expect(body.kind).toBe("AdmissionReview");
    expect(body.response.uid).toBe(r.request.uid);
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.code).toBe(422);
    const message: string = body.response.status.message;
    expect(message).toContain(
      "TrustgatePolicy shop/deny-admin: policy shop/deny-admin, rule 0, field spec.rules[0].to[0].operation.ports[0]:",
    );
    expect(message).toContain("field spec.rules[0].when[0].key:");
    expect(message.split("\n")).toHaveLength(2);
  });

  it("allows a valid one, on create and update, and returns lint warnings", async () => {
    const created = await post(port(), review(allowPath("allow-a", "/a")));
    expect(created.body.response).toEqual({ uid: expect.any(String), allowed: true });
    const updated = await post(port(), review(allowPath("allow-a", "/b"), "UPDATE"));
    expect(updated.body.response.allowed).toBe(true);
    // `rules: [{}]` allows everything: allowed, with the warning lint gives.
    const open = await post(port(), review(tgp("shop", "allow-all", { action: "ALLOW", rules: [{}] })));
    expect(open.body.response.allowed).toBe(true);
    expect(open.body.response.warnings).toHaveLength(1);
    expect(open.body.response.warnings[0]).toMatch(/^TrustgatePolicy shop\/allow-all rule 0: \[allow-all\]/);
    expect(open.body.response.warnings[0].length).toBeLessThanOrEqual(256);
    expect(server.server.kubernetes.webhook!.stats).toMatchObject({ reviews: 4, denied: 1 });
  });

  it("fills in the namespace from the request, and refuses other kinds and non-reviews", async () => {
    const withoutNamespace = review(allowPath("allow-a", "/a"));
    delete withoutNamespace.request.object.metadata.namespace;
    withoutNamespace.request.namespace = "shop";
    expect((await post(port(), withoutNamespace)).body.response.allowed).toBe(true);

    const other = review(allowPath("x", "/x"));
    other.request.kind = { group: "security.istio.io", version: "v1", kind: "AuthorizationPolicy" };
    const refused = await post(port(), other);
    expect(refused.body.response.allowed).toBe(false);
    expect(refused.body.response.status.message).toContain("TrustgatePolicy objects only");

    expect((await post(port(), { hello: "world" })).status).toBe(400);
    expect((await post(port(), "{not json")).status).toBe(400);
  });

  it("trustgate serve exits 1, naming the listener, when the webhook port is taken", async () => {
    const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"], {
      env: {
        TRUSTGATE_POLICY_DIR: "policies",
        TRUSTGATE_WEBHOOK_ADDR: `127.0.0.1:${port()}`,
        TRUSTGATE_WEBHOOK_CERT_FILE: join(dir, "tls.crt"),
        TRUSTGATE_WEBHOOK_KEY_FILE: join(dir, "tls.key"),
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen for admission webhook on 127.0.0.1:${port()}`);
  });

  it("serves TLS only with its certificate (a client that does not trust it gets no answer)", async () => {
    const stranger = await TestCa.create("stranger.test");
    await expect(post(port(), review(allowPath("a", "/a")), stranger.certPem)).rejects.toThrow();
  });
});

describe("webhook serving certificate rotation", () => {
  it("serves a rotated certificate without a restart", async () => {
    const rotateDir = await mkdtemp(join(tmpdir(), "trustgate-webhook-rotate-"));
    const first = await ca.issue("", { subject: "CN=first", dnsNames: ["localhost"] });
    const second = await ca.issue("", { subject: "CN=second", dnsNames: ["localhost"] });
    const tls = { certFile: join(rotateDir, "tls.crt"), keyFile: join(rotateDir, "tls.key") };
    await writeFile(tls.certFile, first.certPem);
    await writeFile(tls.keyFile, first.keyPem);
    const logger = createLogger("info", new Writable({ write: (_c, _e, done) => done() }));
    const listener = new WebhookListener({ rootNamespace: "istio-system", trustDomains: [] }, logger, 50);
    try {
      const bound = await listener.listen("127.0.0.1:0", tls);
      const p = typeof bound === "string" ? 0 : bound.port;
      const subject = () =>
        new Promise<string>((resolve, reject) => {
          const socket = connect({ host: "127.0.0.1", port: p, ca: ca.certPem, servername: "localhost" }, () => {
            resolve(String(socket.getPeerCertificate().subject.CN));
            socket.end();
          });
          socket.on("error", reject);
        });
      expect(await subject()).toBe("first");
      await writeFile(tls.keyFile, second.keyPem);
      await writeFile(tls.certFile, second.certPem);
      const deadline = Date.now() + 5000;
      while ((await subject()) !== "second" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await subject()).toBe("second");
      expect(listener.stats.certificateReloads).toBeGreaterThanOrEqual(1);
    } finally {
      await listener.close();
      await rm(rotateDir, { recursive: true, force: true });
    }
  });
});
