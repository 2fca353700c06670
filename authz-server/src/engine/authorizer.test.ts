import { Writable } from "node:stream";
import type { Tracer } from "@opentelemetry/api";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import { buildCheckRequest } from "../extauthz/build-check-request.js";
import { CertificateCache } from "../identity/certificate-cache.js";
import { quietRiskView } from "../model/risk-view.js";
import { DecisionLog } from "../observability/decision-log.js";
import { createLogger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { PolicyHolder } from "../policy/policy-holder.js";
import type { PolicySet } from "../policy/policy-set.js";
import { Authorizer } from "./authorizer.js";

const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

function authorizer(set: PolicySet, tracer: Tracer | null = null) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger("info", sink);
  const policies = new PolicyHolder();
  policies.swap(set);
  const metrics = new Metrics({ defaultMetrics: false });
  const decisionLog = new DecisionLog(logger, { mode: "all", sampleRate: 1 });
  const a = new Authorizer({
    policies,
    identity: { trustDomains: new Set(), trustFilterHeaders: false },
    certificates: new CertificateCache(),
    risk: quietRiskView,
    metrics,
    decisionLog,
    logger,
    dryRun: false,
    tracer,
  });
  return { a, metrics, decisionLog, lines };
}

const denyAll = policySet(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: services}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
`);

describe("Authorizer", () => {
  it("gives every Check its own decision id, counts it and logs one line", async () => {
    const { a, metrics, decisionLog, lines } = authorizer(denyAll);
    const request = buildCheckRequest({ destination: { principal: PAYMENT }, path: "/admin/x" });
    const first = a.authorize(request);
    const second = a.authorize(request);
    expect(first.decisionId).not.toBe(second.decisionId);
    expect(first.decision).toMatchObject({ allowed: false, policy: "services/deny-admin" });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/trustgate_decisions_total\{outcome="deny",policy="services\/deny-admin"\} 2/);
    decisionLog.flush();
    await new Promise((r) => setImmediate(r));
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.event === "decision");
    expect(logged.map((l) => l.decision_id)).toEqual([first.decisionId, second.decisionId]);
  });

  it("logs what a refused request said: source address, method, host, path and headers (credentials redacted)", async () => {
    const { a, decisionLog, lines } = authorizer(denyAll);
    const refused = [
      // malformed: a dot segment; untrusted identity: a SPIFFE ID outside the trust domain; unknown destination
      buildCheckRequest({ destination: { principal: PAYMENT }, path: "/api/../admin", method: "GET" }),
      buildCheckRequest({
        source: { principal: "spiffe://cluster.local/ns/x/sa/y/../z", ip: "10.9.8.7" },
        destination: { principal: PAYMENT },
        path: "/pay",
        method: "POST",
        host: "payment:8080",
        headers: { authorization: "Bearer secret", "x-tenant": "t1" },
      }),
      buildCheckRequest({ destination: { principal: "" }, path: "/x", method: "DELETE" }),
    ];
    for (const request of refused) expect(a.authorize(request).decision.allowed).toBe(false);
    decisionLog.flush();
    await new Promise((r) => setImmediate(r));
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.event === "decision");
    expect(logged.map((l) => [l.outcome, l.method, l.path])).toEqual([
      ["deny", "GET", "/api/../admin"],
      ["unauthenticated", "POST", "/pay"],
      ["deny", "DELETE", "/x"],
    ]);
    expect(logged[1]).toMatchObject({
      caller: "spiffe://cluster.local/ns/x/sa/y/../z",
      caller_verified: false,
      source_ip: "10.9.8.7",
      host: "payment:8080",
      headers: { authorization: "[redacted]", "x-tenant": "t1" },
    });
  });

  it("counts and reports forged identity headers", async () => {
    const { a, metrics } = authorizer(denyAll);
    const r = a.authorize(
      buildCheckRequest({ destination: { principal: PAYMENT }, headers: { "x-trustgate-peer-spiffe-id": PAYMENT } }),
    );
    expect(r.spoofedHeaders).toEqual(["x-trustgate-peer-spiffe-id"]);
    expect(await metrics.registry.metrics()).toMatch(/trustgate_spoofed_identity_headers_total 1/);
  });

  it("names the trace in lower case when its span inherits an upper-case B3 trace id", async () => {
    const tracer = new BasicTracerProvider().getTracer("t");
    const { a, decisionLog, lines } = authorizer(denyAll, tracer);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const headers = { "x-b3-traceid": traceId.toUpperCase(), "x-b3-spanid": "00F067AA0BA902B7", "x-b3-sampled": "1" };
    a.authorize(buildCheckRequest({ destination: { principal: PAYMENT }, path: "/admin/x", headers }));
    decisionLog.flush();
    await new Promise((r) => setImmediate(r));
    const [line] = lines.map((l) => JSON.parse(l)).filter((l) => l.event === "decision");
    expect(line.trace_id).toBe(traceId);
    expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("denies instead of throwing when deciding fails", () => {
    const broken = {
      current: {
        version: "v",
        get root(): never {
          throw new Error("boom");
        },
      },
    } as unknown as PolicyHolder;
    const { a } = authorizer(denyAll);
    (a as unknown as { deps: { policies: PolicyHolder } }).deps.policies = broken;
    const r = a.authorize(buildCheckRequest({ destination: { principal: PAYMENT } }));
    expect(r.decision).toMatchObject({ allowed: false, policy: "trustgate/internal-error" });
  });
});
