import { describe, expect, it } from "vitest";
import { decision } from "../model/decision.js";
import { checkCodec } from "./codec.js";
import { writeCheckResponse } from "./response-writer.js";
import { toCheckResponse } from "./to-check-response.js";

const protobufjs = checkCodec();
const reference = (r: Parameters<typeof writeCheckResponse>[0]) =>
  Buffer.from(
    protobufjs.root
      .lookupType("envoy.service.auth.v3.CheckResponse")
      .encode(r as never)
      .finish(),
  );

const context = {
  decisionId: "6f9e4a1e-8c1b-4f3e-9d2a-1c0b9e7f5a33",
  caller: "spiffe://cluster.local/ns/services/sa/order",
  policyVersion: "0123456789ab",
  removeHeaders: null,
  shadow: null,
};

describe("writeCheckResponse", () => {
  it("writes the same bytes as protobufjs for every response trustgate gives", () => {
    const cases = [
      toCheckResponse(
        decision("allow", "allowed by services/payment-allow rule 1", "services/payment-allow", 1),
        context,
      ),
      toCheckResponse(decision("deny", "denied by DENY policy ns/d rule 0 — ünïcödé ✓", "ns/d", 0), context),
      toCheckResponse(decision("unauthenticated", "identity rejected: no certificate", "trustgate/identity"), context),
      toCheckResponse(decision("allow", "dry-run", "ns/d", -1), {
        ...context,
        removeHeaders: ["x-trustgate-peer-spiffe-id", "x-trustgate-peer-mtls"],
        shadow: decision("deny", "would deny", "ns/shadow", 3),
      }),
      toCheckResponse(decision("deny", "r".repeat(300), "p".repeat(200), 70_000), { ...context, caller: "" }),
      { status: { code: -1 } },
      { status: { code: 0 }, dynamicMetadata: { fields: { a: { boolValue: true }, b: { numberValue: 1.5e300 } } } },
    ];
    for (const r of cases) expect(writeCheckResponse(r).equals(reference(r))).toBe(true);
  });

  it("decodes back to what was written", () => {
    const r = toCheckResponse(decision("deny", "no", "ns/p", 2), context);
    expect(protobufjs.decodeResponse(writeCheckResponse(r))).toMatchObject({
      status: { code: 7, message: "no" },
      deniedResponse: { status: { code: 403 } },
      dynamicMetadata: { fields: { policy: { stringValue: "ns/p" }, rule: { numberValue: 2 } } },
    });
  });
});
