/**
 * The revocation list endpoint the wasm filters poll, and the operator endpoints that feed it, on a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const FP = `sha256:${"ab".repeat(32)}`;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { http: { adminToken: "s3cret-admin" } });
});
afterAll(async () => {
  await server.stop();
});

const post = (body: unknown, token = "s3cret-admin") =>
  fetch(`${server.httpUrl}/v1/revocations`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("/v1/revocations", () => {
  it("serves the exact documented JSON with an ETag, and 304 when unchanged", async () => {
    const first = await fetch(`${server.httpUrl}/v1/revocations`);
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag")!;
    const body = await first.text();
    const version = Number(etag.replaceAll('"', ""));
    expect(body).toBe(`{"version":${version},"spiffeIds":[],"fingerprints":[]}`);
    const again = await fetch(`${server.httpUrl}/v1/revocations`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  it("requires the admin token to revoke, and refuses malformed input", async () => {
    expect((await post({ spiffeId: ORDER, reason: "x" }, "wrong")).status).toBe(401);
    expect((await post({ spiffeId: "spiffe://Bad/x", reason: "x" })).status).toBe(400);
    expect((await post({ spiffeId: "spiffe://cluster.local", reason: "no path" })).status).toBe(400);
    expect((await post({ fingerprint: "sha256:XYZ", reason: "x" })).status).toBe(400);
    expect((await post({ spiffeId: ORDER })).status).toBe(400);
  });

  it("a revoked identity is in the list with a new version and is refused by Check until restored", async () => {
    const before = Number((await fetch(`${server.httpUrl}/v1/revocations`)).headers.get("etag")!.replaceAll('"', ""));
    expect((await post({ spiffeId: ORDER, reason: "incident 42" })).status).toBe(200);
    expect((await post({ fingerprint: FP, reason: "key leaked" })).status).toBe(200);
    const list = (await (await fetch(`${server.httpUrl}/v1/revocations`)).json()) as { version: number };
    expect(list).toMatchObject({ spiffeIds: [ORDER], fingerprints: [FP] });
    expect(list.version).toBeGreaterThan(before);

    const client = new CheckClient(server.grpcAddress);
    try {
      const denied = await client.check(checkRequest({ principal: ORDER }));
      expect(denied.status.code).toBe(16);
      expect(JSON.parse(denied.deniedResponse!.body).reason).toBe(
        `identity rejected: identity ${ORDER} is revoked by an operator: incident 42`,
      );
      const del = await fetch(`${server.httpUrl}/v1/revocations?spiffeId=${encodeURIComponent(ORDER)}`, {
        method: "DELETE",
        headers: { authorization: "Bearer s3cret-admin" },
      });
      expect(del.status).toBe(200);
      expect((await client.check(checkRequest({ principal: ORDER }))).status.code).toBe(0);
    } finally {
      client.close();
    }
    expect(server.logs.some((l) => l.event === "identity revoked by operator" && l.reason === "incident 42")).toBe(
      true,
    );
  });

  it("warns when no Check has shown whether certificates reach trustgate; not with trusted filter headers", async () => {
    const fresh = await startTestServer({}, { http: { adminToken: "s3cret-admin" } });
    const filtered = await startTestServer(
      {},
      { http: { adminToken: "s3cret-admin" }, identity: { trustFilterHeaders: true } },
    );
    try {
      for (const [s, warned] of [
        [fresh, true],
        [filtered, false],
      ] as const) {
        const r = await fetch(`${s.httpUrl}/v1/revocations`, {
          method: "POST",
          headers: { authorization: "Bearer s3cret-admin" },
          body: JSON.stringify({ fingerprint: FP, reason: "key leaked", ttlSeconds: 60 }),
        });
        expect(r.status).toBe(200);
        const body = (await r.json()) as { warning?: string };
        if (warned) expect(body.warning).toMatch(/no Check with a caller identity has arrived yet/);
        else expect(body.warning).toBeUndefined();
      }
      expect(fresh.logs.some((l) => l.event === "certificate revoked by operator" && l.warning)).toBe(true);
    } finally {
      await fresh.stop();
      await filtered.stop();
    }
  });

  it("disables operator endpoints when no admin token is configured", async () => {
    const open = await startTestServer({});
    try {
      const r = await fetch(`${open.httpUrl}/v1/revocations`, { method: "POST", body: "{}" });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toContain("set http.adminToken");
    } finally {
      await open.stop();
    }
  });
});
