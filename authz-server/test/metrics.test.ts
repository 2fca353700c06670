import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";

describe("/metrics of a replica without Redis and with the static mapping", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({});
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("does not export the Redis and Kubernetes gauges at all (absent, not 0)", async () => {
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(text).toContain("trustgate_risk_identities");
    expect(text).not.toContain("trustgate_risk_redis_connected");
    expect(text).not.toContain("trustgate_falco_kubernetes_pods");
  });
});
