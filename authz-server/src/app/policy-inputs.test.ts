import { describe, expect, it } from "vitest";
import { turnsDuring } from "../../test/support/event-loop-turns.js";
import type { CompiledPolicy } from "../policy/compiled.js";
import { buildPolicySet } from "./policy-inputs.js";

const SPEC = {
  action: "ALLOW",
  rules: [
    {
      from: [{ source: { principals: ["cluster.local/ns/services/sa/order"] } }],
      to: [{ operation: { methods: ["GET"], paths: ["/api/*"] } }],
    },
  ],
};

const object = (namespace: string, name: string) => ({
  apiVersion: "trustgate.dev/v1alpha1",
  kind: "TrustgatePolicy",
  metadata: { namespace, name, uid: `${namespace}-${name}`, generation: 1 },
  spec: SPEC,
});

const checks = (p: CompiledPolicy) => [...(p.rules[0]!.from ?? []).flat(), ...(p.rules[0]!.to ?? []).flat()];

describe("buildPolicySet (a worker process's rebuild)", () => {
  it("shares the fields a source's objects repeat, as the primary's source does", async () => {
    const built = await buildPolicySet(
      [],
      "d",
      [{ name: "kubernetes", digest: "k", objects: [object("services", "a"), object("frontend", "b")] }],
      "istio-system",
      {},
    );
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    const [a, b] = [built.set.find("services/a")!, built.set.find("frontend/b")!];
    expect(checks(a)).toHaveLength(3);
    for (const [i, check] of checks(a).entries()) expect(checks(b)[i], `check ${i}`).toBe(check);
  });
});

describe("buildPolicySet with thousands of objects", () => {
  it("lets the event loop run between slices while it compiles them", async () => {
    const objects = Array.from({ length: 2000 }, (_, i) => object(`ns-${i % 50}`, `p-${i}`));
    const { result: built, turns } = await turnsDuring(() =>
      buildPolicySet([], "d", [{ name: "kubernetes", digest: "k", objects }], "istio-system", {}, 1),
    );
    expect(built.ok).toBe(true);
    if (built.ok) expect(built.set.policies).toHaveLength(2000);
    expect(turns).toBeGreaterThan(3);
  });
});
