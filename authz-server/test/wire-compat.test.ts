/**
 * Wire compatibility with the upstream Envoy v3 API: CheckRequests are encoded with the complete upstream protos
 * (from @grpc/grpc-js-xds deps/envoy-api), sent over a real gRPC connection, and trustgate's CheckResponses are
 * decoded with the upstream protos — whatever trustgate's own definitions say.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpstreamCheckClient, type UpstreamMessage } from "../../test/support/upstream-envoy.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

const policies = {
  "payment.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment-allow, namespace: services}
spec:
  selector: {matchLabels: {app: payment}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/v1/payment/*"]}}]
`,
  "database.yaml": `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: database-allow, namespace: data}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`,
};

function httpRequest(
  overrides: { principal?: string; method?: string; path?: string; headers?: Record<string, string> } = {},
) {
  const method = overrides.method ?? "POST";
  const path = overrides.path ?? "/api/v1/payment/42?currency=EUR";
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: "10.1.0.5", portValue: 51234 } },
        principal: overrides.principal ?? ORDER,
      },
      destination: {
        address: { socketAddress: { address: "10.1.0.9", portValue: 8080 } },
        principal: PAYMENT,
        labels: { app: "payment" },
      },
      request: {
        time: { seconds: 1_790_000_000, nanos: 5 },
        http: {
          id: "13907472946013093921",
          method,
          path,
          host: "payment.services.svc.cluster.local:8080",
          scheme: "http",
          protocol: "HTTP/2",
          size: -1,
          headers: {
            ":authority": "payment.services.svc.cluster.local:8080",
            ":method": method,
            ":path": path,
            ":scheme": "http",
            "x-request-id": "6f9e4a1e-0000-4000-8000-000000000001",
            ...(overrides.headers ?? {}),
          },
        },
      },
      contextExtensions: { virtual_host: "inbound" },
      metadataContext: {},
    },
  };
}

let server: TestServer;
let client: UpstreamCheckClient;

beforeAll(async () => {
  server = await startTestServer(policies);
  client = new UpstreamCheckClient(server.grpcAddress);
});

afterAll(async () => {
  client.close();
  await server.stop();
});

function headerOptions(list: unknown): Array<{ key: string; value: string; append: UpstreamMessage | undefined }> {
  return (list as UpstreamMessage[]).map((o) => {
    const header = o.header as { key: string; value: string };
    return {
      key: header.key,
      value: header.value,
      append: Object.hasOwn(o, "append") ? (o.append as UpstreamMessage) : undefined,
    };
  });
}

describe("ext_authz wire contract (upstream protos)", () => {
  it("allows with an explicit OK status, an ok_response header set with append=false, and dynamic metadata", async () => {
    const { raw, message, object } = await client.check(httpRequest());
    // Field 1 (status) is on the wire even though its code is 0: an absent status would also mean OK, but we say it.
    expect(raw[0]).toBe(0x0a);
    expect(Object.hasOwn(message, "status")).toBe(true);
    expect((message.status as { code: number }).code).toBe(0);
    expect(object.httpResponse).toBe("okResponse");
    const headers = headerOptions((message.okResponse as UpstreamMessage).headers);
    expect(headers).toHaveLength(1);
    expect(headers[0]!.key).toBe("x-trustgate-decision-id");
    expect(headers[0]!.value).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers[0]!.append).toBeDefined();
    expect((headers[0]!.append as unknown as { value: boolean }).value).toBe(false);
    const meta = (object.dynamicMetadata as { fields: Record<string, Record<string, unknown>> }).fields;
    expect(meta.decision).toMatchObject({ stringValue: "allow" });
    expect(meta.policy).toMatchObject({ stringValue: "services/payment-allow" });
    expect(meta.caller).toMatchObject({ stringValue: ORDER });
    expect(meta.decision_id!.stringValue).toBe(headers[0]!.value);
  });

  it("denies with code 7 and a JSON 403 naming policy, rule and decision id", async () => {
    const { message, object } = await client.check(
      httpRequest({ principal: "spiffe://cluster.local/ns/frontend/sa/web" }),
    );
    expect((message.status as { code: number }).code).toBe(7);
    expect(object.httpResponse).toBe("deniedResponse");
    const denied = message.deniedResponse as UpstreamMessage;
    expect((denied.status as { code: number }).code).toBe(403);
    const headers = headerOptions(denied.headers);
    expect(headers.find((h) => h.key === "content-type")?.value).toBe("application/json");
    for (const h of headers) expect((h.append as unknown as { value: boolean }).value).toBe(false);
    const body = JSON.parse(denied.body as string);
    expect(body).toEqual({
      decision: "deny",
      reason: expect.stringContaining(
        "no ALLOW rule matched; closest: services/payment-allow rule 0 failed on from[0].source.principals",
      ),
      policy: "trustgate/default-deny",
      rule: -1,
      decision_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(headers.find((h) => h.key === "x-trustgate-decision-id")?.value).toBe(body.decision_id);
  });

  it("answers a caller without identity with code 16 and HTTP 401", async () => {
    const { message } = await client.check(httpRequest({ principal: "" }));
    expect((message.status as { code: number }).code).toBe(16);
    expect(((message.deniedResponse as UpstreamMessage).status as { code: number }).code).toBe(401);
  });

  it("matches the path without its query string and refuses traversal", async () => {
    const ok = await client.check(httpRequest({ path: "/api/v1/payment/1?redirect=/admin" }));
    expect((ok.message.status as { code: number }).code).toBe(0);
    const traversal = await client.check(httpRequest({ path: "/api/v1/payment/../../admin" }));
    expect((traversal.message.status as { code: number }).code).toBe(7);
    expect(JSON.parse((traversal.message.deniedResponse as { body: string }).body).policy).toBe(
      "trustgate/malformed-request",
    );
  });

  it("decides a TCP-only CheckRequest (no request.http) on identity alone", async () => {
    const tcp = (principal: string, destination: string, app: string) => ({
      attributes: {
        source: { address: { socketAddress: { address: "10.1.0.5", portValue: 51234 } }, principal },
        destination: {
          address: { socketAddress: { address: "10.1.0.9", portValue: 5432 } },
          principal: destination,
          labels: { app },
          service: "outbound_.5432_._.db",
        },
      },
    });
    const DATABASE = "spiffe://cluster.local/ns/data/sa/database";
    const code = async (r: Record<string, unknown>) =>
      ((await client.check(r)).message.status as { code: number }).code;
    expect(await code(tcp(ORDER, DATABASE, "database"))).toBe(0);
    expect(await code(tcp("spiffe://cluster.local/ns/frontend/sa/web", DATABASE, "database"))).toBe(7);
    // The payment ALLOW rule needs HTTP fields, which a TCP check never matches.
    expect(await code(tcp(ORDER, PAYMENT, "payment"))).toBe(7);
  });

  it("reads headers sent as header_map (encode_raw_headers: true)", async () => {
    const request = httpRequest();
    const http = request.attributes.request.http as Record<string, unknown>;
    const headers = http.headers as Record<string, string>;
    delete http.headers;
    http.headerMap = {
      headers: Object.entries(headers).map(([key, value]) => ({ key, rawValue: Buffer.from(value) })),
    };
    const { message } = await client.check(request);
    expect((message.status as { code: number }).code).toBe(0);
  });

  it("strips forged identity headers upstream and never trusts them when the filter is not configured", async () => {
    const forged = httpRequest({
      principal: "",
      headers: { "x-trustgate-peer-spiffe-id": ORDER, "x-trustgate-peer-cert-sha256": `sha256:${"a".repeat(64)}` },
    });
    const { message } = await client.check(forged);
    expect((message.status as { code: number }).code).toBe(16);
    const spoofLog = server.logs.find((l) => l.event === "spoofed identity headers ignored");
    expect(spoofLog?.headers).toEqual(["x-trustgate-peer-spiffe-id", "x-trustgate-peer-cert-sha256"]);
  });

  it("denies bytes that are not a CheckRequest with an OK answer (failure_mode_allow turns an error into an allow)", async () => {
    for (const bytes of [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), Buffer.from([0xff, 0xff])]) {
      const message = client.responseType.decode(await client.checkRaw(bytes)) as UpstreamMessage;
      expect((message.status as { code: number }).code).toBe(7);
      const body = JSON.parse((message.deniedResponse as { body: string }).body);
      expect(body.policy).toBe("trustgate/malformed-request");
      expect(body.reason).toMatch(/^malformed request: the CheckRequest does not decode: /);
    }
  });

  it("refuses an oversized message with RESOURCE_EXHAUSTED", async () => {
    const huge = httpRequest({ headers: { "x-big": "a".repeat(2 * 1024 * 1024) } });
    const err = await client.check(huge).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("answers an empty CheckRequest with a deny, not an error", async () => {
    const { message } = await client.check({});
    expect((message.status as { code: number }).code).toBe(7);
    expect(JSON.parse((message.deniedResponse as { body: string }).body).reason).toBe(
      "malformed request: CheckRequest has no attributes",
    );
  });
});
