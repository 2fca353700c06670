import { describe, expect, it } from "vitest";
import { turnsDuring } from "../../test/support/event-loop-turns.js";
import { compileDocuments } from "../policy/load-policy-set.js";
import { parsePolicyText } from "../policy/policy-files.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";
import { compileInSlices } from "./sliced-compile.js";

function bigPolicy(rules: number): string {
  let text =
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: big, namespace: ns}\nspec:\n  rules:\n";
  for (let i = 0; i < rules; i++) text += `  - to: [{operation: {paths: ["/p${i}/*"], methods: [GET]}}]\n`;
  return text;
}

function transferred(text: string): TransferredDocument[] {
  return parsePolicyText(text, "big.yaml").documents.map((doc) => ({
    file: doc.file,
    value: doc.value,
    line: doc.lineAt([]),
    ruleLines: ((doc.value as { spec: { rules: unknown[] } }).spec.rules ?? []).map((_, i) =>
      doc.lineAt(["spec", "rules", i]),
    ),
    rulesFollow: false,
  }));
}

describe("compileInSlices", () => {
  it("compiles exactly what a one-shot compile does, rule lines included", async () => {
    const text = `${bigPolicy(50)}---\n${bigPolicy(3).replace("name: big", "name: small")}`;
    const sliced = await compileInSlices(transferred(text), 0);
    const direct = compileDocuments(parsePolicyText(text, "big.yaml").documents);
    expect(sliced.ok).toBe(true);
    if (!sliced.ok) return;
    expect(JSON.stringify(sliced.policies)).toBe(JSON.stringify(direct.policies));
    expect(sliced.policies[0]!.rules[7]!.line).toBe(13);
  });

  it("lets the event loop run between slices, even inside one big policy", async () => {
    const { result, turns } = await turnsDuring(() => compileInSlices(transferred(bigPolicy(3000)), 1));
    expect(result.ok).toBe(true);
    expect(turns).toBeGreaterThan(3);
  });

  it("reports duplicate policies like the one-shot loader", async () => {
    const result = await compileInSlices(transferred(`${bigPolicy(1)}---\n${bigPolicy(1)}`), 5);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors[0]!.message).toMatch(/duplicate policy ns\/big \(also defined at big\.yaml:1\)/);
  });
});
