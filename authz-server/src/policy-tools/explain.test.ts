import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import { explain, formatExplanation } from "./explain.js";

const set = policySet(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: guard, namespace: services}
spec:
  action: DENY
  rules:
  - when:
    - key: custom.falco_alert
      values: [critical, alert]
    - key: request.headers[x-debug]
      notValues: ["1"]
    - key: request.headers[x-trace]
      notValues: ["on"]
`);

describe("explain wording", () => {
  it('says "not in" when the value is not in the list, whatever the check asked for', () => {
    const text = formatExplanation(
      explain(
        {
          source: { principal: "spiffe://cluster.local/ns/services/sa/order", risk: "low" },
          destination: { namespace: "services" },
          headers: { "x-debug": "1" },
        },
        set,
      ),
    );
    expect(text).toContain('✗ when[0] custom.falco_alert: "none" not in ["critical", "alert"]');
    // notValues: the check fails because the value IS in the list, and passes when it is not
    expect(text).toContain('✗ when[1] request.headers[x-debug] (notValues): "1" in ["1"]');
    expect(text).toContain('✓ when[2] request.headers[x-trace] (notValues): (none) not in ["on"]');
  });

  it('says "in" for a value that matched', () => {
    const text = formatExplanation(
      explain(
        {
          source: { principal: "spiffe://cluster.local/ns/services/sa/order", risk: "critical", alerts: ["critical"] },
          destination: { namespace: "services" },
        },
        set,
      ),
    );
    expect(text).toContain('✓ when[0] custom.falco_alert: "critical" in ["critical", "alert"]');
  });
});
