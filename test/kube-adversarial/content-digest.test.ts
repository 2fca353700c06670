/** The root cause of the `__proto__` probe in policy-watch.test.ts, in isolation. */
import { describe, expect, it } from "vitest";
import { contentDigest } from "../../authz-server/src/kube/policy-object.js";

describe("kube-adversarial: contentDigest", () => {
  it("two specs that differ only in a `__proto__` matchLabels key have different digests", () => {
    const base = (labels: string) =>
      JSON.parse(
        `{"apiVersion":"trustgate.dev/v1alpha1","kind":"TrustgatePolicy","metadata":{"name":"d","namespace":"s"},"spec":{"action":"DENY","selector":{"matchLabels":${labels}},"rules":[{}]}}`,
      );
    const withProto = base(`{"app":"payment","__proto__":"x"}`);
    const without = base(`{"app":"payment"}`);
    expect(Object.keys(withProto.spec.selector.matchLabels)).toEqual(["app", "__proto__"]);
    // canonical() builds `out[k] = …` on a plain {}: `__proto__` sets the prototype, JSON.stringify drops it.
    expect(contentDigest(withProto)).not.toBe(contentDigest(without));
  });
});
