import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import { buildCheckRequest, type RequestSpec } from "../extauthz/build-check-request.js";
import { CertificateCache } from "../identity/certificate-cache.js";
import { quietRiskView } from "../model/risk-view.js";
import { type DecideEnvironment, decideCheck } from "./decide-check.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const WEB = "spiffe://cluster.local/ns/frontend/sa/web";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

const set = policySet(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment-allow-order, namespace: services}
spec:
  selector: {matchLabels: {app: payment}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`);

const environment: DecideEnvironment = {
  identity: { trustDomains: new Set(["cluster.local"]), trustFilterHeaders: false },
  certificates: new CertificateCache(),
  risk: quietRiskView,
};

function decide(spec: RequestSpec, options: { dryRun?: boolean } = {}) {
  const request = buildCheckRequest({ destination: { principal: PAYMENT, labels: { app: "payment" } }, ...spec });
  return decideCheck(request, set, environment, {
    dryRun: options.dryRun ?? false,
    nowMs: Date.now(),
    decisionId: "id",
  });
}

describe("decideCheck", () => {
  it("allows what a policy allows, with the model, the evaluation and the set version", () => {
    const a = decide({ source: { principal: ORDER } });
    expect(a.decision).toMatchObject({ allowed: true, policy: "services/payment-allow-order", rule: 0 });
    expect(a.model?.source.principal).toBe(ORDER);
    expect(a.evaluation?.decision).toBe(a.decision);
    expect(a.rejection).toBeNull();
    expect(a).toMatchObject({ policyVersion: set.version, decisionId: "id" });
  });

  it("denies by default when an ALLOW policy applies and no rule matches", () => {
    expect(decide({ source: { principal: WEB } }).decision).toMatchObject({
      allowed: false,
      outcome: "deny",
      policy: "trustgate/default-deny",
    });
  });

  it("turns refusals before policies into pseudo-policy decisions", () => {
    expect(decide({ source: { principal: "spiffe://evil.example/ns/a/sa/b" } }).decision).toMatchObject({
      outcome: "unauthenticated",
      policy: "trustgate/identity",
    });
    expect(decide({ source: { principal: ORDER }, path: "/x/../y" }).decision).toMatchObject({
      outcome: "deny",
      policy: "trustgate/malformed-request",
    });
    const unknown = decideCheck(buildCheckRequest({ source: { principal: ORDER } }), set, environment, {
      dryRun: false,
      nowMs: Date.now(),
    });
    expect(unknown.decision.policy).toBe("trustgate/unknown-destination");
    expect(unknown.rejection?.kind).toBe("destination");
  });

  it("in global dry-run, allows and keeps the enforced answer as the shadow", () => {
    const a = decide({ source: { principal: WEB } }, { dryRun: true });
    expect(a.decision.allowed).toBe(true);
    expect(a.decision.reason).toMatch(/^dry-run mode, not enforced: no ALLOW rule matched/);
    expect(a.evaluation?.shadow?.policy).toBe("trustgate/default-deny");
    const refused = decide({ source: { principal: "spiffe://evil.example/ns/a/sa/b" } }, { dryRun: true });
    expect(refused.decision.allowed).toBe(true);
    expect(refused.evaluation?.shadow?.policy).toBe("trustgate/identity");
  });

  it("denies while no policy set is loaded", () => {
    const a = decideCheck(
      buildCheckRequest({ source: { principal: ORDER }, destination: { principal: PAYMENT } }),
      null,
      environment,
      { dryRun: false, nowMs: Date.now() },
    );
    expect(a.decision).toMatchObject({ allowed: false, policy: "trustgate/internal-error" });
    expect(a.policyVersion).toBe("");
  });
});
