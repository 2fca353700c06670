/**
 * With `identity.trustFilterHeaders`, a client's own `x-trustgate-peer-*` headers reach trustgate whenever the wasm
 * filter runs after ext_authz (Istio runs every WasmPlugin after the CUSTOM ext_authz call). Over real gRPC: a
 * plaintext caller that claims a workload's identity is refused, and an mTLS caller cannot claim someone else's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const allowOrder = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-order, namespace: services}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`;

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

describe("filter headers without a peer", () => {
  it("a plaintext caller claiming a workload identity in x-trustgate-peer-spiffe-id is denied", async () => {
    server = await startTestServer({ "p.yaml": allowOrder }, { identity: { trustFilterHeaders: true } });
    const client = new CheckClient(server.grpcAddress);
    try {
      const forged = await client.check(checkRequest({ headers: { "x-trustgate-peer-spiffe-id": ORDER } }));
      expect(forged.status.code).not.toBe(0);
      expect(forged.dynamicMetadata?.fields.reason?.stringValue).toMatch(/Envoy reports no peer principal/);
      const claimOther = await client.check(
        checkRequest({
          principal: "spiffe://cluster.local/ns/services/sa/web",
          headers: { "x-trustgate-peer-spiffe-id": ORDER },
        }),
      );
      expect(claimOther.status.code).not.toBe(0);
      // The real thing still works: Envoy's principal and the filter's header agree.
      const genuine = await client.check(
        checkRequest({ principal: ORDER, headers: { "x-trustgate-peer-spiffe-id": ORDER } }),
      );
      expect(genuine.status.code).toBe(0);
    } finally {
      client.close();
    }
  });
});
