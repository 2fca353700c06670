import { describe, expect, it } from "vitest";
import { decision } from "../model/decision.js";
import { DECISION_ID_HEADER, GRPC_OK, GRPC_PERMISSION_DENIED, GRPC_UNAUTHENTICATED } from "./check-response.js";
import { type ResponseContext, toCheckResponse } from "./to-check-response.js";

const ctx: ResponseContext = {
  decisionId: "d-1",
  caller: "spiffe://cluster.local/ns/services/sa/order",
  policyVersion: "v1",
  removeHeaders: null,
  shadow: null,
};

describe("decision → CheckResponse", () => {
  it("allows with an explicit OK status, the decision id header (overwrite) and metadata", () => {
    const r = toCheckResponse(decision("allow", "allowed by x", "ns/p", 2), ctx);
    expect(r.status).toEqual({ code: GRPC_OK });
    expect(r.deniedResponse).toBeUndefined();
    expect(r.okResponse).toEqual({
      headers: [{ header: { key: DECISION_ID_HEADER, value: "d-1" }, append: { value: false } }],
    });
    expect(r.dynamicMetadata?.fields).toEqual({
      decision: { stringValue: "allow" },
      policy: { stringValue: "ns/p" },
      rule: { numberValue: 2 },
      decision_id: { stringValue: "d-1" },
      caller: { stringValue: ctx.caller },
      policy_version: { stringValue: "v1" },
    });
  });

  it("asks Envoy to remove forged identity headers on allow", () => {
    const r = toCheckResponse(decision("allow", "ok", "ns/p", 0), {
      ...ctx,
      removeHeaders: ["x-trustgate-peer-spiffe-id"],
    });
    expect(r.okResponse?.headersToRemove).toEqual(["x-trustgate-peer-spiffe-id"]);
  });

  it("denies with 403, PERMISSION_DENIED and a JSON body naming policy, rule and reason", () => {
    const r = toCheckResponse(decision("deny", "denied by DENY policy ns/d rule 0", "ns/d", 0), ctx);
    expect(r.status).toEqual({ code: GRPC_PERMISSION_DENIED, message: "denied by DENY policy ns/d rule 0" });
    expect(r.deniedResponse?.status).toEqual({ code: 403 });
    expect(r.deniedResponse?.headers.map((h) => [h.header.key, h.append.value])).toEqual([
      ["content-type", false],
      [DECISION_ID_HEADER, false],
    ]);
    expect(JSON.parse(r.deniedResponse!.body)).toEqual({
      decision: "deny",
      reason: "denied by DENY policy ns/d rule 0",
      policy: "ns/d",
      rule: 0,
      decision_id: "d-1",
    });
    expect(r.dynamicMetadata?.fields.reason).toEqual({ stringValue: "denied by DENY policy ns/d rule 0" });
  });

  it("answers an unauthenticated caller with 401 and UNAUTHENTICATED", () => {
    const r = toCheckResponse(decision("unauthenticated", "identity rejected", "trustgate/identity"), ctx);
    expect(r.status.code).toBe(GRPC_UNAUTHENTICATED);
    expect(r.deniedResponse?.status).toEqual({ code: 401 });
  });

  it("reports the dry-run shadow decision in the metadata", () => {
    const shadow = decision("deny", "would deny", "ns/d", 1);
    const r = toCheckResponse(decision("allow", "dry-run", "ns/d", 1), { ...ctx, shadow });
    expect(r.dynamicMetadata?.fields).toMatchObject({
      shadow_decision: { stringValue: "deny" },
      shadow_policy: { stringValue: "ns/d" },
    });
  });
});
