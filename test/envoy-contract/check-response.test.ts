/**
 * Envoy-contract audit of trustgate's CheckResponse: real responses from a running server, decoded with the complete
 * upstream Envoy protos (@grpc/grpc-js-xds deps), checked against how Envoy reads them
 * (source/extensions/filters/common/ext_authz/ext_authz_grpc_impl.cc GrpcClientImpl::onSuccess/onFailure and
 * source/extensions/filters/http/ext_authz/ext_authz.cc Filter::onComplete).
 *
 * Envoy facts these probes rely on:
 *  - status.code == 0 ⇒ CheckStatus::OK (ok_response mutations applied); any other code ⇒ Denied (unless
 *    error_response is set) with HTTP 403 unless denied_response.status.code > 0.
 *  - a gRPC failure (onFailure) ⇒ CheckStatus::Error ⇒ failure_mode_allow ? continue (ALLOW) : status_on_error.
 *  - headers_to_remove: names that are not removable (`:`-pseudo headers, `host`) are skipped (`continue`), not
 *    rejected, unless decoder_header_mutation_rules are configured; with validate_mutations an invalid header name
 *    or value in `headers` ⇒ rejectResponse() ⇒ HTTP 500.
 */
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authorizer } from "../../authz-server/src/engine/authorizer.js";
import { ResponseTemplates } from "../../authz-server/src/extauthz/response-templates.js";
import { writeCheckResponse } from "../../authz-server/src/extauthz/response-writer.js";
import {
  MAX_RESPONSE_REASON,
  type ResponseContext,
  responseReason,
  toCheckResponse,
} from "../../authz-server/src/extauthz/to-check-response.js";
import { GrpcServer } from "../../authz-server/src/grpc/grpc-server.js";
import { CertificateCache } from "../../authz-server/src/identity/certificate-cache.js";
import { type Decision, decision } from "../../authz-server/src/model/decision.js";
import { quietRiskView } from "../../authz-server/src/model/risk-view.js";
import { DecisionLog } from "../../authz-server/src/observability/decision-log.js";
import { createLogger } from "../../authz-server/src/observability/logger.js";
import { Metrics } from "../../authz-server/src/observability/metrics.js";
import type { PolicyHolder } from "../../authz-server/src/policy/policy-holder.js";
import type { PolicySet } from "../../authz-server/src/policy/policy-set.js";
import { at, falcoJson, SHELL_IN_ORDER } from "../../authz-server/test/support/falco-alerts.js";
import { policySet } from "../../authz-server/test/support/fixtures.js";
import {
  ADMIN_TOKEN,
  DENY_RISKY_CALLERS,
  falcoNow,
  ID,
  type RiskTestServer,
  startRiskServer,
} from "../../authz-server/test/support/risk-server.js";
import { startTestServer, type TestServer } from "../../authz-server/test/support/test-server.js";
import { UpstreamCheckClient, type UpstreamMessage, upstreamType } from "../support/upstream-envoy.js";

const CheckResponse = upstreamType("envoy.service.auth.v3.CheckResponse");
const StatusCodeEnum = upstreamType("envoy.type.v3.HttpStatus").fields.code!.resolve().resolvedType as unknown as {
  valuesById: Record<number, string>;
};

// ---------------------------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------------------------

const PAYMENT_ALLOW = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment-allow, namespace: services}
spec:
  selector: {matchLabels: {app: payment}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/api", "cluster.local/ns/services/sa/order"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/v1/payment/*"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["acme"]}]
`;

const PAYMENT_DRY_RUN_DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payment-dry-deny
  namespace: services
  annotations: {"istio.io/dry-run": "true"}
spec:
  selector: {matchLabels: {app: payment}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/api/v1/payment/dry*"]}}]
`;

const POLICIES = {
  "risk.yaml": DENY_RISKY_CALLERS,
  "payment.yaml": PAYMENT_ALLOW,
  "payment-dry.yaml": PAYMENT_DRY_RUN_DENY,
};

// ---------------------------------------------------------------------------------------------------------------
// Requests (upstream field names)
// ---------------------------------------------------------------------------------------------------------------

interface Overrides {
  principal?: string;
  destinationPrincipal?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Sent as header_map with raw_value bytes (encode_raw_headers: true) instead of the headers map. */
  rawHeaders?: Array<{ key: string; rawValue: Buffer }>;
}

function httpRequest(o: Overrides = {}): Record<string, unknown> {
  const method = o.method ?? "POST";
  const path = o.path ?? "/api/v1/payment/42?currency=EUR";
  const headers: Record<string, string> = {
    ":authority": "payment.services.svc.cluster.local:8080",
    ":method": method,
    ":path": path,
    ":scheme": "http",
    "x-request-id": "6f9e4a1e-0000-4000-8000-000000000001",
    "x-tenant": "acme",
    ...(o.headers ?? {}),
  };
  const http: Record<string, unknown> = {
    id: "13907472946013093921",
    method,
    path,
    host: "payment.services.svc.cluster.local:8080",
    scheme: "http",
    protocol: "HTTP/1.1",
    size: -1,
  };
  if (o.rawHeaders) {
    http.headerMap = {
      headers: [
        ...Object.entries(headers).map(([key, value]) => ({ key, rawValue: Buffer.from(value) })),
        ...o.rawHeaders,
      ],
    };
  } else http.headers = headers;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: "10.1.0.5", portValue: 51234 } },
        principal: o.principal ?? ID.api,
      },
      destination: {
        address: { socketAddress: { address: "10.1.0.9", portValue: 8080 } },
        principal: o.destinationPrincipal ?? ID.payment,
        labels: { app: "payment" },
      },
      request: { time: { seconds: 1_790_000_000, nanos: 5 }, http },
      contextExtensions: { virtual_host: "inbound" },
      metadataContext: {},
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What Envoy accepts
// ---------------------------------------------------------------------------------------------------------------

/** Envoy HeaderUtility::headerNameIsValid for a regular header: nghttp2_check_header_name (lower-case token). */
const VALID_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** HeaderUtility::headerValueIsValid: nghttp2_check_header_value (no NUL, CR, LF). */
function headerValueIsValid(v: string): boolean {
  return !/[\0\r\n]/.test(v);
}
/** HeaderUtility::isRemovableHeader: not `:`-prefixed, not `host`. */
function isRemovableHeader(name: string): boolean {
  return !name.startsWith(":") && name.toLowerCase() !== "host";
}

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages are walked field by field in the probes.
type Loose = any;
type Msg = UpstreamMessage & Record<string, Loose>;

function decode(raw: Buffer): { message: Msg; object: Record<string, Loose> } {
  const message = CheckResponse.decode(raw) as Msg;
  const object = CheckResponse.toObject(message, { longs: Number, enums: Number, defaults: false, oneofs: true });
  return { message, object };
}

/** protobufjs drops unknown fields; a re-encode equal to the wire bytes proves every field had a known number/type. */
function expectNoUnknownFields(raw: Buffer, message: Msg): void {
  const again = Buffer.from(CheckResponse.encode(message).finish());
  expect(again.toString("hex")).toBe(raw.toString("hex"));
}

function expectHeaderOptionsAcceptable(list: Msg[] | undefined): void {
  for (const o of list ?? []) {
    const key = o.header.key as string;
    const value = o.header.value as string;
    expect(key, `header name ${JSON.stringify(key)} is a valid lower-case token`).toMatch(VALID_HEADER_NAME);
    expect(headerValueIsValid(value), `header value of ${key} has no NUL/CR/LF`).toBe(true);
    expect(Object.hasOwn(o, "append"), `${key}: append is set explicitly`).toBe(true);
    expect(o.append.value).toBe(false);
    expect(o.appendAction ?? 0).toBe(0);
    expect(Object.hasOwn(o.header, "rawValue")).toBe(false);
  }
}

function expectWellFormedDeny(
  raw: Buffer,
  expected: { grpc: number; http: number; policy?: string | RegExp },
): { body: Record<string, unknown>; meta: Record<string, Loose>; message: Msg } {
  const { message, object } = decode(raw);
  expectNoUnknownFields(raw, message);
  expect(raw[0], "field 1 (status) first, length-delimited").toBe(0x0a);
  expect(Object.hasOwn(message, "status")).toBe(true);
  const code = message.status.code as number;
  expect(code, "status.code != 0, or Envoy reads the response as ALLOW").not.toBe(0);
  expect(code).toBe(expected.grpc);
  expect(object.httpResponse).toBe("deniedResponse");
  expect(Object.hasOwn(message, "okResponse")).toBe(false);
  expect(Object.hasOwn(message, "errorResponse")).toBe(false);
  const denied = message.deniedResponse as Msg;
  const http = denied.status?.code as number;
  expect(http, "denied_response.status.code > 0 (0 ⇒ Envoy's default 403)").toBeGreaterThan(0);
  expect(StatusCodeEnum.valuesById[http], "a defined envoy.type.v3.StatusCode").toBeDefined();
  expect(http).toBe(expected.http);
  expectHeaderOptionsAcceptable(denied.headers);
  const headers = Object.fromEntries((denied.headers as Msg[]).map((h) => [h.header.key, h.header.value]));
  expect(headers["content-type"]).toBe("application/json");
  const body = JSON.parse(denied.body as string) as Record<string, unknown>;
  expect(body.decision).toBe("deny");
  expect(headers["x-trustgate-decision-id"]).toBe(body.decision_id);
  if (expected.policy !== undefined) {
    if (typeof expected.policy === "string") expect(body.policy).toBe(expected.policy);
    else expect(body.policy).toMatch(expected.policy);
  }
  const meta = (object.dynamicMetadata?.fields ?? {}) as Record<string, Loose>;
  expect(meta.decision?.stringValue).toBe("deny");
  expect(meta.decision_id?.stringValue).toBe(body.decision_id);
  expect(meta.policy?.stringValue).toBe(body.policy);
  expect(meta.reason?.stringValue).toBe(body.reason);
  return { body, meta, message };
}

function expectWellFormedAllow(raw: Buffer): { message: Msg; meta: Record<string, Loose>; removed: string[] } {
  const { message, object } = decode(raw);
  expectNoUnknownFields(raw, message);
  expect(raw[0]).toBe(0x0a);
  expect(message.status.code ?? 0).toBe(0);
  expect(object.httpResponse).toBe("okResponse");
  const ok = message.okResponse as Msg;
  expectHeaderOptionsAcceptable(ok.headers);
  const removed = (ok.headersToRemove ?? []) as string[];
  for (const name of removed) {
    expect(name).toMatch(VALID_HEADER_NAME);
    expect(isRemovableHeader(name), `${name} is removable (Envoy silently skips pseudo-headers and host)`).toBe(true);
  }
  expect(ok.responseHeadersToAdd ?? []).toEqual([]);
  expect(ok.queryParametersToSet ?? []).toEqual([]);
  expect(ok.queryParametersToRemove ?? []).toEqual([]);
  expect(Object.hasOwn(ok, "dynamicMetadata"), "deprecated ok_response.dynamic_metadata would override").toBe(false);
  const meta = (object.dynamicMetadata?.fields ?? {}) as Record<string, Loose>;
  expect(meta.decision?.stringValue).toBe("allow");
  const id = (ok.headers as Msg[]).find((h) => h.header.key === "x-trustgate-decision-id")?.header.value;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  expect(meta.decision_id?.stringValue).toBe(id);
  return { message, meta, removed };
}

/** Sends raw bytes; `receiveLimit` lifts the client's own 4 MiB receive cap so only the server's limits show. */
function checkRaw(address: string, bytes: Buffer): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
  });
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      "/envoy.service.auth.v3.Authorization/Check",
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      { deadline: Date.now() + 20_000 },
      (err, response) => (err ? reject(err) : resolve(response!)),
    );
  }).finally(() => client.close());
}

// ---------------------------------------------------------------------------------------------------------------
// A real server (risk mapping, identity.trustDomains = [cluster.local], admin token)
// ---------------------------------------------------------------------------------------------------------------

let server: RiskTestServer;
let client: UpstreamCheckClient;

beforeAll(async () => {
  server = await startRiskServer({}, POLICIES);
  client = new UpstreamCheckClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.close();
});

async function check(o: Overrides = {}): Promise<Buffer> {
  return checkRaw(server.grpcAddress, client.encode(httpRequest(o)));
}

describe("every deny path is a well-formed deny Envoy cannot read as allow", () => {
  it("control: allow is status 0 with ok_response", async () => {
    const { meta } = expectWellFormedAllow(await check());
    expect(meta.policy.stringValue).toBe("services/payment-allow");
  });

  it("policy default deny (ALLOW policy applies, none matched) → 7 / 403", async () => {
    expectWellFormedDeny(await check({ principal: ID.web }), {
      grpc: 7,
      http: 403,
      policy: "trustgate/default-deny",
    });
  });

  it("unauthenticated (no principal) → 16 / 401", async () => {
    expectWellFormedDeny(await check({ principal: "" }), { grpc: 16, http: 401 });
  });

  it("identity rejected (foreign trust domain; invalid SPIFFE ID) → 16 / 401", async () => {
    expectWellFormedDeny(await check({ principal: "spiffe://evil.example/ns/services/sa/api" }), {
      grpc: 16,
      http: 401,
      policy: "trustgate/identity",
    });
    expectWellFormedDeny(await check({ principal: 'not a spiffe id "\u2028\u0000' }), {
      grpc: 16,
      http: 401,
      policy: "trustgate/identity",
    });
  });

  it("malformed request (traversal, control char in path, bad address) → 7 / 403", async () => {
    for (const path of ["/api/v1/payment/../../admin", "/api/v1/payment/%2e%2e;/x", "/a\u0001b"]) {
      expectWellFormedDeny(await check({ path }), { grpc: 7, http: 403, policy: "trustgate/malformed-request" });
    }
  });

  it("unknown destination → 7 / 403", async () => {
    expectWellFormedDeny(await check({ destinationPrincipal: "" }), {
      grpc: 7,
      http: 403,
      policy: "trustgate/unknown-destination",
    });
  });

  it("undecodable bytes and an empty CheckRequest → 7 / 403, never a gRPC error", async () => {
    for (const bytes of [
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      Buffer.from([0xff, 0xff]),
      Buffer.from([0x0a, 0x02, 0x0a]),
      Buffer.alloc(0),
      // 200 nested messages (past the decoder's recursion limit)
      (() => {
        let m = Buffer.alloc(0);
        for (let i = 0; i < 200; i++) m = Buffer.concat([Buffer.from([0x0a, ...varint(m.length)]), m]);
        return m;
      })(),
    ]) {
      // (the 200-deep nesting happens to decode — protobufjs skips the mismatched wire types — and is then denied
      // as an unknown destination: still a well-formed deny)
      expectWellFormedDeny(await checkRaw(server.grpcAddress, bytes), {
        grpc: 7,
        http: 403,
        policy: /^trustgate\/(malformed-request|unknown-destination)$/,
      });
    }
  });

  it("revoked identity (operator reason with unicode and control characters) → 16 / 401", async () => {
    const reason = 'incident "42" — ☠ \u2028 tab\there';
    const res = await fetch(`${server.httpUrl}/v1/revocations`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ spiffeId: ID.billing, reason }),
    });
    expect(res.status).toBe(200);
    const { body } = expectWellFormedDeny(await check({ principal: ID.billing }), {
      grpc: 16,
      http: 401,
      policy: "trustgate/identity",
    });
    expect(body.reason).toBe(`identity rejected: identity ${ID.billing} is revoked by an operator: ${reason}`);
  });

  it("spoofed identity headers on an allowed request: removed via headers_to_remove with names Envoy accepts", async () => {
    const { removed } = expectWellFormedAllow(
      await check({
        headers: {
          "x-trustgate-peer-spiffe-id": ID.order,
          x_trustgate_peer_cert_sha256: `sha256:${"a".repeat(64)}`,
          "x-trustgate-peer-mtls": "true",
        },
      }),
    );
    expect(removed.sort()).toEqual([
      "x-trustgate-peer-mtls",
      "x-trustgate-peer-spiffe-id",
      "x_trustgate_peer_cert_sha256",
    ]);
  });

  it("spoofed identity headers sent as header_map (mixed case keys) are removed under their lower-case names", async () => {
    const { removed } = expectWellFormedAllow(
      await check({ rawHeaders: [{ key: "X-Trustgate-Peer-Spiffe-Id", rawValue: Buffer.from(ID.order) }] }),
    );
    expect(removed).toEqual(["x-trustgate-peer-spiffe-id"]);
  });

  it("per-policy dry-run DENY: enforced allow (status 0) with shadow_* metadata", async () => {
    const { meta } = expectWellFormedAllow(await check({ path: "/api/v1/payment/dry-run" }));
    expect(meta.shadow_decision?.stringValue).toBe("deny");
    expect(meta.shadow_policy?.stringValue).toBe("services/payment-dry-deny");
  });

  it("risk deny (Falco alert about the caller) → 7 / 403 by the DENY policy", async () => {
    const posted = await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
    expect(posted.status).toBeLessThan(300);
    let raw: Buffer | null = null;
    for (let i = 0; i < 100; i++) {
      raw = await check({ principal: ID.order });
      if (decode(raw).message.status.code !== 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expectWellFormedDeny(raw!, { grpc: 7, http: 403, policy: "istio-system/deny-risky-callers" });
  });
});

describe("request data echoed into the response", () => {
  it("a header value echoed by the default-deny reason (quotes, unicode, U+2028, 20k chars) decodes exactly", async () => {
    const value = `"\\<script>☠\u2028${"é".repeat(10_000)}${"x".repeat(10_000)}`;
    const { body } = expectWellFormedDeny(await check({ headers: { "x-tenant": value } }), {
      grpc: 7,
      http: 403,
      policy: "trustgate/default-deny",
    });
    // Quoted values are cut at 128 characters (the decision log keeps the whole reason).
    expect(body.reason).toContain(value.slice(0, 128));
    expect(String(body.reason).length).toBeLessThanOrEqual(MAX_RESPONSE_REASON + 64);
  });

  // Failed before the fix (a regression test now). The default-deny reason quoted the request's own header values
  // (policy/evaluate.ts closestMiss), unbounded, three times (status.message, the JSON body, dynamic_metadata.reason).
  // With encode_raw_headers each
  // non-UTF-8 byte of a header value becomes U+FFFD (3 bytes), so 1 request byte costs 9 response bytes. Past
  // grpc.max_send_message_length (4 MiB, grpc-server.ts) grpc-js fails the RPC with RESOURCE_EXHAUSTED: Envoy's
  // GrpcClientImpl::onFailure ⇒ CheckStatus::Error ⇒ failure_mode_allow ? ALLOW : status_on_error — a deny that
  // is not delivered as a deny.
  it("a deny whose reason echoes a large header stays a deny (not a gRPC error)", async () => {
    const raw = Buffer.alloc(600_000, 0x80);
    let response: Buffer | null = null;
    let error: grpc.ServiceError | null = null;
    try {
      response = await check({ rawHeaders: [{ key: "x-tenant", rawValue: raw }] });
    } catch (e) {
      error = e as grpc.ServiceError;
    }
    expect(
      error === null ? null : { code: grpc.status[error.code], details: error.details },
      "the deny must arrive as a CheckResponse",
    ).toBeNull();
    expectWellFormedDeny(response!, { grpc: 7, http: 403, policy: "trustgate/default-deny" });
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Global dry-run
// ---------------------------------------------------------------------------------------------------------------

describe("global dry-run (policies.dryRun: true)", () => {
  let dry: TestServer;
  let dryClient: UpstreamCheckClient;
  beforeAll(async () => {
    dry = await startTestServer({ "payment.yaml": PAYMENT_ALLOW }, { policies: { dryRun: true } });
    dryClient = new UpstreamCheckClient(dry.grpcAddress);
  });
  afterAll(async () => {
    dryClient.close();
    await dry.stop();
  });

  it("a would-be deny is answered as allow (status 0) with shadow_decision=deny, as the README says", async () => {
    const raw = await checkRaw(dry.grpcAddress, dryClient.encode(httpRequest({ principal: ID.web })));
    const { meta } = expectWellFormedAllow(raw);
    expect(meta.shadow_decision?.stringValue).toBe("deny");
    expect(meta.shadow_policy?.stringValue).toBe("trustgate/default-deny");
  });

  it("a would-be identity rejection and undecodable bytes are allowed too, still well-formed", async () => {
    expectWellFormedAllow(await checkRaw(dry.grpcAddress, dryClient.encode(httpRequest({ principal: "" }))));
    expectWellFormedAllow(await checkRaw(dry.grpcAddress, Buffer.from([0xff, 0xff])));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Internal error
// ---------------------------------------------------------------------------------------------------------------

describe("internal error and no policy set", () => {
  function start(current: () => PolicySet | null): { grpcServer: GrpcServer; ready: Promise<number> } {
    const logger = createLogger("error", new Writable({ write: (_c, _e, d) => d() }));
    const policies = {
      get current() {
        return current();
      },
    } as unknown as PolicyHolder;
    const authorizer = new Authorizer({
      policies,
      identity: { trustDomains: new Set(), trustFilterHeaders: false },
      certificates: new CertificateCache(),
      risk: quietRiskView,
      metrics: new Metrics({ defaultMetrics: false }),
      decisionLog: new DecisionLog(logger, { mode: "none", sampleRate: 1 }),
      logger,
      dryRun: false,
    });
    const grpcServer = new GrpcServer({ address: "127.0.0.1:0", maxMessageBytes: 1 << 20, authorizer, logger });
    return { grpcServer, ready: grpcServer.listen() };
  }

  it("an exception while deciding → 7 / 403 trustgate/internal-error", async () => {
    const good = policySet(PAYMENT_ALLOW);
    const broken = Object.create(good, {
      namespaceGroup: {
        value: () => {
          throw new Error("boom");
        },
      },
    }) as PolicySet;
    await expectInternalErrorDeny(() => broken);
  });

  it("no policy set loaded yet → 7 / 403 trustgate/internal-error", async () => {
    await expectInternalErrorDeny(() => null);
  });

  async function expectInternalErrorDeny(current: () => PolicySet | null): Promise<void> {
    const { grpcServer, ready } = start(current);
    const port = await ready;
    try {
      const c = new UpstreamCheckClient(`127.0.0.1:${port}`);
      expectWellFormedDeny(await checkRaw(`127.0.0.1:${port}`, c.encode(httpRequest())), {
        grpc: 7,
        http: 403,
        policy: "trustgate/internal-error",
      });
      c.close();
    } finally {
      grpcServer.server.forceShutdown();
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The hand-written encoder and templates against the upstream protos
// ---------------------------------------------------------------------------------------------------------------

const HOSTILE = [
  "",
  "plain",
  "é",
  "☠ emoji 🧨 and CJK 漢字",
  "\u0000nul\u0001\u001f\u007fdel",
  '"quotes" and \\backslash\\ and \r\n crlf',
  "\u2028\u2029 line separators",
  "\ufeffBOM",
  "a".repeat(127),
  "a".repeat(128),
  "a".repeat(129),
  `${"a".repeat(127)}é`,
  `${"a".repeat(128)}é`,
  "é".repeat(64),
  "é".repeat(65),
  "x".repeat(16_383),
  "x".repeat(16_384),
  "y".repeat(2_100_000),
  "\u007f".repeat(36),
  "\u007f".repeat(72),
];
const LONE_SURROGATES = ["\ud800", "a\udc00b", `${"a".repeat(120)}\ud83d`];

const ID36 = "0f8e6c1a-5d4b-4c3a-9b2e-1a2b3c4d5e6f";

function ctx(over: Partial<ResponseContext> = {}): ResponseContext {
  return {
    decisionId: ID36,
    caller: ID.api,
    policyVersion: "v1",
    removeHeaders: null,
    shadow: null,
    ...over,
  };
}

function upstreamBytes(obj: unknown): Buffer {
  return Buffer.from(CheckResponse.encode(CheckResponse.fromObject(obj as Record<string, unknown>)).finish());
}

describe("response-writer.ts bytes = upstream protobuf encoding, decoding to exactly the intended message", () => {
  it.each(HOSTILE.map((s) => [JSON.stringify(s.length > 40 ? `${s.slice(0, 20)}…(${s.length})` : s), s]))(
    "deny with reason/policy %s",
    (_label, s) => {
      const d = decision("deny", s, s, 3);
      const intended = toCheckResponse(d, ctx({ caller: s, policyVersion: s, removeHeaders: [s] }));
      const bytes = writeCheckResponse(intended);
      expect(bytes.equals(upstreamBytes(intended))).toBe(true);
      const { object } = decode(bytes);
      expect(object.status.code).toBe(7);
      // The reason is bounded in the response (MAX_RESPONSE_REASON); the policy name is not.
      expect(object.status.message ?? "").toBe(responseReason(s));
      expect(object.deniedResponse.status.code).toBe(403);
      expect(object.deniedResponse.body).toBe(intended.deniedResponse!.body);
      expect(JSON.parse(object.deniedResponse.body).policy).toBe(s);
      expect(object.dynamicMetadata.fields.reason.stringValue ?? "").toBe(responseReason(s));
      expect(object.dynamicMetadata.fields.rule.numberValue).toBe(3);
    },
  );

  it.each(HOSTILE.map((s) => [JSON.stringify(s.length > 40 ? `${s.slice(0, 20)}…(${s.length})` : s), s]))(
    "allow with policy/caller/removed header %s (general path and template path agree)",
    (_label, s) => {
      const d: Decision = decision("allow", "ok", `ns/${s}`, 0);
      for (const c of [ctx({ caller: s, policyVersion: s }), ctx({ removeHeaders: [s] }), ctx({ shadow: d })]) {
        const intended = toCheckResponse(d, c);
        const bytes = writeCheckResponse(intended);
        expect(bytes.equals(upstreamBytes(intended))).toBe(true);
        const templated = new ResponseTemplates().encode(d, c);
        expect(templated.equals(bytes)).toBe(true);
        const { object } = decode(bytes);
        expect(object.status.code ?? 0).toBe(0);
        expect(object.okResponse.headers[0].header.value).toBe(ID36);
        expect(object.okResponse.headers[0].append.value).toBe(false);
      }
    },
  );

  it("templates: the same allow decision answered many times with different ids stays exact", () => {
    const t = new ResponseTemplates();
    const d = decision("allow", "ok", "ns/p\u007f\u007f", 0);
    for (let i = 0; i < 50; i++) {
      const id = `${i.toString(16).padStart(8, "0")}-5d4b-4c3a-9b2e-1a2b3c4d5e6f`;
      for (const caller of [ID.api, ID.order, "\u007f".repeat(36)]) {
        const c = ctx({ decisionId: id, caller });
        expect(t.encode(d, c).equals(writeCheckResponse(toCheckResponse(d, c)))).toBe(true);
      }
    }
  });

  it.each(LONE_SURROGATES.map((s) => [JSON.stringify(s), s]))(
    // Envoy's C++ parser refuses invalid UTF-8 in a proto3 `string` (the whole CheckResponse would fail to parse ⇒
    // Error ⇒ failure mode). The writer emits U+FFFD (EF BF BD), valid UTF-8 — unlike protobufjs's own short-string
    // encoder, which writes the surrogate as ED A0 80 (so the bytes deliberately differ from protobufjs here).
    "lone surrogate %s: encoded as valid UTF-8 (U+FFFD), same bytes as the well-formed string, still a valid deny",
    (_label, s) => {
      const intended = toCheckResponse(decision("deny", s, s), ctx());
      const bytes = writeCheckResponse(intended);
      const wellFormed = (s as unknown as { toWellFormed(): string }).toWellFormed();
      // No UTF-8-encoded surrogate (ED A0..BF xx) anywhere in the response.
      for (let i = 0; i + 1 < bytes.length; i++) {
        if (bytes[i] === 0xed) expect(bytes[i + 1]! < 0xa0, `surrogate bytes at ${i}`).toBe(true);
      }
      const { object } = decode(bytes);
      expect(object.status.code).toBe(7);
      expect(object.status.message).toBe(wellFormed);
      expect(object.dynamicMetadata.fields.reason.stringValue).toBe(wellFormed);
      // The JSON body carries the surrogate as a \uXXXX escape (JSON.stringify), which is ASCII.
      expect(JSON.parse(object.deniedResponse.body).reason).toBe(s);
    },
  );

  it("unauthenticated deny: 16 / 401; status always written, even 0", () => {
    const deny = writeCheckResponse(toCheckResponse(decision("unauthenticated", "r", "p"), ctx()));
    expect(decode(deny).object.status.code).toBe(16);
    expect(decode(deny).object.deniedResponse.status.code).toBe(401);
    const allow = writeCheckResponse(toCheckResponse(decision("allow", "r", "p"), ctx()));
    // 0x0a <len> 0x08 0x00: status { code: 0 } on the wire
    expect([...allow.subarray(0, 4)]).toEqual([0x0a, 0x02, 0x08, 0x00]);
  });
});
