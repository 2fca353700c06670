import { describe, expect, it } from "vitest";
import { compilePolicy } from "./compile-policy.js";
import { PolicySet } from "./policy-set.js";
import { weakenedDenies } from "./weakened-denies.js";

function policy(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) {
  const compiled = compilePolicy({
    file: "p.yaml",
    value: {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name, namespace: "ns", annotations },
      spec,
    },
    lineAt: () => 1,
  });
  if (!compiled.policy) throw new Error(JSON.stringify(compiled.errors));
  return compiled.policy;
}

const denyAdmin = { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] };
const set = (...policies: ReturnType<typeof policy>[]) => new PolicySet(policies, "istio-system", "digest");

describe("weakenedDenies", () => {
  it("reports DENY policies that disappear, turn into another action, or turn into dry-run", () => {
    const before = set(
      policy("gone", denyAdmin),
      policy("audited", denyAdmin),
      policy("shadowed", denyAdmin),
      policy("kept", denyAdmin),
      policy("allow", { rules: [{}] }),
    );
    const after = set(
      policy("audited", { ...denyAdmin, action: "AUDIT" }),
      policy("shadowed", denyAdmin, { "istio.io/dry-run": "true" }),
      policy("kept", denyAdmin),
    );
    expect(weakenedDenies(before, after)).toEqual([
      { policy: "ns/audited", change: "removed" },
      { policy: "ns/gone", change: "removed" },
      { policy: "ns/shadowed", change: "dry-run" },
    ]);
  });

  it("says nothing at the first load, or when a DENY only changes or gains rules", () => {
    expect(weakenedDenies(null, set(policy("a", denyAdmin)))).toEqual([]);
    const more = { action: "DENY", rules: [...denyAdmin.rules, { to: [{ operation: { paths: ["/x"] } }] }] };
    expect(weakenedDenies(set(policy("a", denyAdmin)), set(policy("a", more)))).toEqual([]);
    // A DENY that was already in dry-run is not weakened by going away.
    expect(weakenedDenies(set(policy("a", denyAdmin, { "istio.io/dry-run": "true" })), set())).toEqual([]);
  });
});
