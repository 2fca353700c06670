/**
 * `POST /v1/explain` reveals policies and risk: it needs the admin token whenever the admin listener can be reached
 * from other hosts, because behind a sidecar every client connects from loopback.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";

const policy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: services}
spec:
  rules: [{}]
`;

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function explain(
  s: TestServer,
  token?: string,
): Promise<{ status: number; body: { error?: string; decision?: { allowed: boolean; reason: string } } }> {
  const port = s.httpUrl.split(":").pop();
  const response = await fetch(`http://127.0.0.1:${port}/v1/explain`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ source: { principal: "spiffe://cluster.local/ns/a/sa/b" }, path: "/" }),
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

describe("/v1/explain against the running server", () => {
  it("refuses a revoked caller as a live Check does (it said ALLOW before)", async () => {
    server = await startTestServer({ "p.yaml": policy }, { http: { adminToken: "s3cret" } });
    const port = server.httpUrl.split(":").pop();
    const revoked = await fetch(`http://127.0.0.1:${port}/v1/revocations`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer s3cret" },
      body: JSON.stringify({ spiffeId: "spiffe://cluster.local/ns/a/sa/b", reason: "test" }),
    });
    expect(revoked.status).toBeLessThan(300);
    const answer = await explain(server, "s3cret");
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).toContain("revoked by an operator");
  });
});

describe("/v1/explain authentication", () => {
  it("answers a loopback client without a token only when the listener is loopback-only and no token is set", async () => {
    server = await startTestServer({ "p.yaml": policy });
    expect((await explain(server)).status).toBe(200);
  });

  it("needs the admin token on a listener reachable from other hosts, even from a loopback client", async () => {
    server = await startTestServer({ "p.yaml": policy }, { http: { addr: "0.0.0.0:0" } });
    const answer = await explain(server);
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatch(/explain needs http\.adminToken .* not loopback-only/);
  });

  it("with a token configured, needs it on any listener", async () => {
    for (const addr of ["0.0.0.0:0", "127.0.0.1:0"]) {
      server = await startTestServer({ "p.yaml": policy }, { http: { addr, adminToken: "s3cret" } });
      expect((await explain(server)).status, addr).toBe(401);
      expect((await explain(server, "wrong")).status, addr).toBe(401);
      expect((await explain(server, "s3cret")).status, addr).toBe(200);
      await server.stop();
      server = null;
    }
  });
});
