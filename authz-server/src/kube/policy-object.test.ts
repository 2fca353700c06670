import { describe, expect, it } from "vitest";
import { compileObject, contentDigest, objectOrigin, type TrustgatePolicyObject } from "./policy-object.js";

const object = (extra: Partial<TrustgatePolicyObject> = {}): TrustgatePolicyObject => ({
  apiVersion: "trustgate.dev/v1alpha1",
  kind: "TrustgatePolicy",
  metadata: { name: "allow-web", namespace: "shop", uid: "u1", resourceVersion: "10", generation: 1 },
  spec: { action: "ALLOW", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] },
  ...extra,
});

describe("TrustgatePolicy objects", () => {
  it("compile with the loader's compiler and are named by kind, namespace and name", () => {
    const result = compileObject(object());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.policy.id).toBe("shop/allow-web");
    expect(result.policy.file).toBe("TrustgatePolicy shop/allow-web");
    expect(result.policy.line).toBe(0);
    expect(objectOrigin(object())).toBe("TrustgatePolicy shop/allow-web");
  });

  it("report errors with the object and field path, line 0", () => {
    const result = compileObject(object({ spec: { action: "CUSTOM" } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors[0]).toMatchObject({
      file: "TrustgatePolicy shop/allow-web",
      line: 0,
      policy: "shop/allow-web",
      field: "spec.action",
    });
  });

  it("refuses an object of the wrong group version", () => {
    const result = compileObject(object({ apiVersion: "trustgate.dev/v1" }));
    expect(result.ok).toBe(false);
  });

  it("digest follows spec and annotations, not status or server bookkeeping", () => {
    const base = contentDigest(object());
    expect(contentDigest(object({ status: { observedGeneration: 1 } }))).toBe(base);
    expect(
      contentDigest(
        object({ metadata: { name: "allow-web", namespace: "shop", uid: "u1", resourceVersion: "99", generation: 1 } }),
      ),
    ).toBe(base);
    // Key order does not matter (JSON from different clients).
    expect(
      contentDigest(object({ spec: { rules: [{ to: [{ operation: { methods: ["GET"] } }] }], action: "ALLOW" } })),
    ).toBe(base);
    expect(contentDigest(object({ spec: { action: "DENY" } }))).not.toBe(base);
    expect(
      contentDigest(
        object({
          metadata: { name: "allow-web", namespace: "shop", uid: "u1", annotations: { "istio.io/dry-run": "true" } },
        }),
      ),
    ).not.toBe(base);
  });
});
