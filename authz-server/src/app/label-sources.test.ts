import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { policySet } from "../../test/support/fixtures.js";
import { createLogger } from "../observability/logger.js";
import { selectorLabelsWarning } from "./label-sources.js";

const scoped = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment-callers, namespace: services}
spec:
  selector: {matchLabels: {app: payment}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`;
const unscoped = scoped.replace("  selector: {matchLabels: {app: payment}}\n", "");

function capture() {
  const lines: string[] = [];
  const logger = createLogger(
    "info",
    new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { lines, logger };
}

describe("the warning about selectors without a source of labels", () => {
  it("is said once, at the first policy set with a selector, when nothing gives labels", () => {
    const { lines, logger } = capture();
    const warn = selectorLabelsWarning(false, logger);
    warn(policySet(unscoped));
    expect(lines).toHaveLength(0);
    warn(policySet(scoped));
    warn(policySet(scoped));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      event: "selector labels unknown",
      policies: ["services/payment-callers"],
      count: 1,
    });
  });

  it("is not said when the inventory or the pod watch gives labels", () => {
    const { lines, logger } = capture();
    selectorLabelsWarning(true, logger)(policySet(scoped));
    expect(lines).toHaveLength(0);
  });
});
