import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decision } from "../model/decision.js";
import { ResponseTemplates } from "./response-templates.js";
import { writeCheckResponse } from "./response-writer.js";
import { type ResponseContext, toCheckResponse } from "./to-check-response.js";

const allow = decision("allow", "allowed by ALLOW policy services/payment-allow rule 1", "services/payment-allow", 1);

function ctx(overrides: Partial<ResponseContext> = {}): ResponseContext {
  return {
    decisionId: randomUUID(),
    caller: "spiffe://cluster.local/ns/services/sa/order",
    policyVersion: "0123456789ab",
    removeHeaders: null,
    shadow: null,
    ...overrides,
  };
}

describe("ResponseTemplates", () => {
  it("gives exactly the bytes of the general writer, for every id, caller and version", () => {
    const templates = new ResponseTemplates();
    const deny = decision("deny", "denied", "ns/d", 0);
    const cases: ResponseContext[] = [
      ctx(),
      ctx(),
      ctx({ caller: "" }),
      ctx({ caller: "spiffe://cluster.local/ns/x/sa/ünïcödé" }),
      ctx({ policyVersion: "ffffffffffff" }),
      ctx({ decisionId: "not-a-uuid" }),
      ctx({ decisionId: "" }),
      ctx({ removeHeaders: ["x-trustgate-peer-spiffe-id"] }),
      ctx({ shadow: deny }),
    ];
    for (const c of cases) {
      for (const d of [allow, deny]) {
        expect(templates.encode(d, c).equals(writeCheckResponse(toCheckResponse(d, c)))).toBe(true);
      }
    }
  });

  it("stays correct past its bound of callers per decision", () => {
    const templates = new ResponseTemplates();
    for (let i = 0; i < 2100; i++) {
      const c = ctx({ caller: `spiffe://cluster.local/ns/n/sa/s${i % 1500}` });
      expect(templates.encode(allow, c).equals(writeCheckResponse(toCheckResponse(allow, c)))).toBe(true);
    }
  });
});
