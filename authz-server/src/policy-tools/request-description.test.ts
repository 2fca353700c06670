import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import { explain } from "./explain.js";
import { requestDescriptionSchema } from "./request-description.js";

// A DENY on a header named like a JavaScript built-in: the header must reach the policy like any other.
const denyProtoHeader = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-proto, namespace: services}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[__proto__]", values: ["*"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: services}
spec:
  rules: [{}]
`;

describe("request descriptions", () => {
  it("keep headers and labels named __proto__, constructor or toString (z.record dropped __proto__)", () => {
    const parsed = requestDescriptionSchema.parse(
      JSON.parse('{"headers": {"__proto__": "x", "toString": "y"}, "destination": {"labels": {"__proto__": "a"}}}'),
    );
    expect(Object.keys(parsed.headers ?? {})).toEqual(["__proto__", "toString"]);
    expect(Object.keys(parsed.destination.labels ?? {})).toEqual(["__proto__"]);
  });

  it("so explain and policy tests see the same decision as a live Check: denied", () => {
    const description = requestDescriptionSchema.parse(
      JSON.parse(
        '{"source": {"principal": "spiffe://cluster.local/ns/a/sa/b"}, "destination": {"namespace": "services"}, "headers": {"__proto__": "1"}}',
      ),
    );
    const result = explain(description, policySet(denyProtoHeader));
    expect(result.outcome.decision).toMatchObject({ allowed: false, policy: "services/deny-proto" });
  });
});
