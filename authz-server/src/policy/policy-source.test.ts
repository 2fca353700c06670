import { describe, expect, it } from "vitest";
import { compileYaml } from "../../test/support/fixtures.js";
import type { LoadResult } from "./load-policy-set.js";
import { PolicySet } from "./policy-set.js";
import { type PolicySource, withSourcePolicies } from "./policy-source.js";

const doc = (name: string, kind = "AuthorizationPolicy", apiVersion = "security.istio.io/v1") =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: shop}\nspec: {action: DENY, rules: [{}]}\n`;

function files(...names: string[]): LoadResult {
  const { policies } = compileYaml(names.map((n) => doc(n)).join("---\n"), "policies/shop.yaml");
  return { ok: true, set: new PolicySet(policies, "istio-system", "files"), files: ["policies/shop.yaml"] };
}

function source(names: string[], digest: string): PolicySource {
  const { policies } = compileYaml(
    names.map((n) => doc(n, "TrustgatePolicy", "trustgate.dev/v1alpha1")).join("---\n"),
    "TrustgatePolicy",
  );
  return { name: "kubernetes", ready: () => true, policies: () => ({ policies, digest }) };
}

describe("joining a policy source with the files", () => {
  it("adds the source's policies; the version follows both", () => {
    const joined = withSourcePolicies(files("a"), [source(["b"], "d1")], "istio-system");
    expect(joined.ok && joined.set.policies.map((p) => p.id)).toEqual(["shop/a", "shop/b"]);
    const other = withSourcePolicies(files("a"), [source(["b"], "d2")], "istio-system");
    expect(joined.ok && other.ok && joined.set.version !== other.set.version).toBe(true);
  });

  it("a file wins over a source policy with the same id", () => {
    const joined = withSourcePolicies(files("a"), [source(["a", "b"], "d1")], "istio-system");
    if (!joined.ok) throw new Error("did not join");
    expect(joined.set.policies.map((p) => p.id)).toEqual(["shop/a", "shop/b"]);
    expect(joined.set.find("shop/a")!.file).toBe("policies/shop.yaml");
  });

  it("leaves a failed file load and a set without sources as they are", () => {
    const failed: LoadResult = { ok: false, errors: [] };
    expect(withSourcePolicies(failed, [source(["b"], "d")], "istio-system")).toBe(failed);
    const alone = files("a");
    expect(withSourcePolicies(alone, [], "istio-system")).toBe(alone);
  });
});
