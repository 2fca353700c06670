import { describe, expect, it } from "vitest";
import {
  type AuthzAllowed,
  applyRequestMutations,
  deniedReplyHeaders,
  interpretCheckResponse,
} from "./check-response.js";

describe("applying a CheckResponse like Envoy", () => {
  it("treats an empty response as OK", () => {
    expect(interpretCheckResponse({}).kind).toBe("ok");
  });

  it("sets or overwrites unless append is true, appends only to existing headers, never removes pseudo-headers or host", () => {
    const outcome = interpretCheckResponse({
      status: { code: 0 },
      okResponse: {
        headers: [
          { header: { key: "x-trustgate-decision-id", value: "d-1" }, append: { value: false } },
          { header: { key: "X-Set", value: "new" } },
          { header: { key: "x-tag", value: "two" }, append: { value: true } },
          { header: { key: "x-absent", value: "never" }, append: { value: true } },
        ],
        headersToRemove: [":path", "host", "x-drop"],
      },
      dynamicMetadata: { fields: { policy: { stringValue: "services/payment-allow" }, rule: { numberValue: 0 } } },
    }) as AuthzAllowed;
    expect(outcome.metadata).toEqual({ policy: "services/payment-allow", rule: 0 });
    const result = applyRequestMutations(
      [
        [":path", "/x"],
        ["host", "h"],
        ["x-set", "old"],
        ["x-set", "older"],
        ["x-tag", "one"],
        ["x-drop", "1"],
      ],
      outcome,
    );
    expect(result).toEqual([
      [":path", "/x"],
      ["host", "h"],
      ["x-set", "new"],
      ["x-tag", "one,two"],
      ["x-trustgate-decision-id", "d-1"],
    ]);
  });

  it("turns a non-zero status into a local reply with the denied status (403 when unset), headers and body", () => {
    const denied = interpretCheckResponse({
      status: { code: 7 },
      deniedResponse: {
        headers: [{ header: { key: "content-type", value: "application/json" }, append: { value: false } }],
        body: '{"decision":"deny"}',
      },
    });
    expect(denied).toMatchObject({ kind: "denied", status: 403, body: '{"decision":"deny"}', grpcCode: 7 });
    if (denied.kind !== "denied") throw new Error("expected a deny");
    expect(
      deniedReplyHeaders(
        [
          ["content-type", "text/plain"],
          ["x-keep", "1"],
        ],
        denied,
      ),
    ).toEqual([
      ["x-keep", "1"],
      ["content-type", "application/json"],
    ]);
    expect(interpretCheckResponse({ status: { code: 16 }, deniedResponse: { status: { code: 401 } } })).toMatchObject({
      status: 401,
    });
  });
});
