import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileYaml, model, type TestRequest } from "../../test/support/fixtures.js";
import type { FieldCheck } from "./compiled.js";
import { evaluate } from "./evaluate.js";
import { FieldPool } from "./field-pool.js";
import { compileDocuments } from "./load-policy-set.js";
import { parsePolicyText } from "./policy-files.js";
import { PolicySet } from "./policy-set.js";

function policy(ns: string, name: string, action: string, rule: string): string {
  return `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  action: ${action}
  rules:
${rule}`;
}

// The same principals, methods, paths, hosts and header values in two namespaces, short service accounts (which
// mean a different account in each namespace), and a policy that differs in one value.
const SHARED_RULE = `  - from:
    - source:
        principals: ["cluster.local/ns/services/sa/order", "spiffe://cluster.local/ns/ops/sa/*"]
    - source:
        serviceAccounts: [billing]
    to:
    - operation:
        methods: [GET, POST]
        paths: ["/api/v1/*", "/items/{*}/detail"]
        hosts: ["payment.services.svc.cluster.local"]
    when:
    - key: request.headers[x-tenant]
      values: ["acme", "*"]
`;
const TEXT = [
  policy("services", "a", "ALLOW", SHARED_RULE),
  policy("frontend", "b", "ALLOW", SHARED_RULE),
  policy("services", "c", "DENY", SHARED_RULE.replace("[GET, POST]", "[GET, PUT]")),
].join("");

function checksOf(policies: ReturnType<typeof compileDocuments>["policies"], id: string): FieldCheck[] {
  const rule = policies.find((p) => p.id === id)!.rules[0]!;
  return [...(rule.from ?? []).flat(), ...(rule.to ?? []).flat(), ...rule.when];
}

function pooledSet(text: string) {
  const compiled = compileDocuments(parsePolicyText(text, "test.yaml").documents);
  expect(compiled.errors).toEqual([]);
  return compiled.policies;
}

describe("FieldPool", () => {
  it("builds once per key, and builds afresh under another trust-domain bundle", () => {
    const pool = new FieldPool<{ n: number }, { c: number }>();
    const [bundle, other] = [{}, {}];
    let built = 0;
    const build = () => ({ n: ++built });
    const first = pool.matchers(bundle, "k", build);
    expect(pool.matchers(bundle, "k", build)).toBe(first);
    expect(pool.matchers(bundle, "other key", build)).not.toBe(first);
    expect(pool.matchers(other, "k", build)).not.toBe(first);
    const check = pool.check(bundle, "k", () => ({ c: 1 }));
    expect(pool.check(bundle, "k", () => ({ c: 2 }))).toBe(check);
    expect(built).toBe(3);
    expect(pool.size).toEqual({ matchers: 2, checks: 1 });
  });

  it("shares the matchers of fields that say the same thing across a set's policies", () => {
    const policies = pooledSet(TEXT);
    const [a, b, c] = [
      checksOf(policies, "services/a"),
      checksOf(policies, "frontend/b"),
      checksOf(policies, "services/c"),
    ];
    const byField = (checks: FieldCheck[], field: string) => checks.find((k) => k.field.endsWith(field))!;
    for (const field of ["principals", "methods", "paths", "hosts", "request.headers[x-tenant]"]) {
      expect(byField(b, field).exact, field).toBe(byField(a, field).exact);
      expect(byField(b, field).wide, field).toBe(byField(a, field).wide);
      expect(byField(b, field).narrow, field).toBe(byField(a, field).narrow);
    }
    // `billing` is services/billing in one policy and frontend/billing in the other.
    expect(byField(b, "serviceAccounts").exact).not.toBe(byField(a, "serviceAccounts").exact);
    // One value differs: its own matchers; the rest are shared with a's.
    expect(byField(c, "methods").exact).not.toBe(byField(a, "methods").exact);
    expect(byField(c, "paths").exact).toBe(byField(a, "paths").exact);
    // A field at the same place with the same values is one check; at another place it shares only the matchers.
    expect(byField(b, "principals")).toBe(byField(a, "principals"));
    const twice = pooledSet(
      policy("services", "d", "ALLOW", "  - to: [{operation: {methods: [GET]}}, {operation: {methods: [GET]}}]\n"),
    );
    const [first, second] = checksOf(twice, "services/d");
    expect(first!.field).not.toBe(second!.field);
    expect(first).not.toBe(second);
    expect(first!.exact).toBe(second!.exact);
  });

  it("keeps a condition's values and notValues apart when they list the same values", () => {
    // Same field label, same values, opposite signs: never true, so the ALLOW rule allows nothing. Sharing one check
    // between them would make it "values AND values", an ALLOW for every request with the header.
    const text = policy(
      "services",
      "contradiction",
      "ALLOW",
      `  - when:
    - key: request.headers[x-tenant]
      values: ["acme"]
      notValues: ["acme"]
`,
    );
    const [values, notValues] = checksOf(pooledSet(text), "services/contradiction");
    expect(values!.field).toBe(notValues!.field);
    expect([values!.negate, notValues!.negate]).toEqual([false, true]);
    expect(values!.exact).toBe(notValues!.exact);
    const set = new PolicySet(pooledSet(text), "istio-system", text);
    expect(
      evaluate(
        set,
        model({ principal: "spiffe://cluster.local/ns/services/sa/order", headers: { "x-tenant": "acme" } }),
      ).decision.allowed,
    ).toBe(false);
  });

  it("decides every request as a set compiled without sharing does", () => {
    const pooled = new PolicySet(pooledSet(TEXT), "istio-system", TEXT);
    const single = compileYaml(TEXT);
    expect(single.errors).toEqual([]);
    const unpooled = new PolicySet(single.policies, "istio-system", TEXT);
    const requests: TestRequest[] = [];
    for (const principal of [
      "spiffe://cluster.local/ns/services/sa/order",
      "spiffe://cluster.local/ns/ops/sa/deployer",
      "spiffe://cluster.local/ns/services/sa/billing",
      "spiffe://cluster.local/ns/frontend/sa/billing",
      "spiffe://cluster.local/ns/other/sa/x",
    ]) {
      for (const method of ["GET", "PUT", "POST"]) {
        for (const path of ["/api/v1/pay", "/items/7/detail", "/ITEMS/7/detail", "/other"]) {
          for (const tenant of [undefined, "acme", ""]) {
            for (const [labels, destinationPrincipal] of [
              [{ app: "payment" }, "spiffe://cluster.local/ns/services/sa/payment"],
              [{ app: "web" }, "spiffe://cluster.local/ns/frontend/sa/web"],
            ] as const) {
              requests.push({
                principal,
                method,
                path,
                labels,
                destinationPrincipal,
                headers: tenant === undefined ? {} : { "x-tenant": tenant },
              });
            }
          }
        }
      }
    }
    let allowed = 0;
    for (const r of requests) {
      const expected = evaluate(unpooled, model(r)).decision;
      expect(evaluate(pooled, model(r)).decision, JSON.stringify(r)).toEqual(expected);
      if (expected.allowed) allowed++;
    }
    // Both outcomes are exercised.
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThan(requests.length);
  });

  // The built modules, in a fresh node with --expose-gc (whether the pool can be collected is a fact about the heap).
  const BUILT = (path: string) => new URL(`../../dist/${path}`, import.meta.url);
  it.skipIf(!existsSync(fileURLToPath(BUILT("policy/load-policy-set.js"))))(
    "is not kept alive by the compiled set it helped build",
    () => {
      const script = `
        const { compileDocuments } = await import(${JSON.stringify(BUILT("policy/load-policy-set.js").href)});
        const { setFieldPool } = await import(${JSON.stringify(BUILT("policy/compile-field.js").href)});
        const { parsePolicyText } = await import(${JSON.stringify(BUILT("policy/policy-files.js").href)});
        const text = ${JSON.stringify(TEXT)};
        let pool = setFieldPool();
        const ref = new WeakRef(pool);
        const { policies, errors } = compileDocuments(parsePolicyText(text, "t.yaml").documents, {}, pool);
        pool = null;
        await new Promise((resolve) => setImmediate(resolve));
        globalThis.gc();
        console.log(JSON.stringify({ policies: policies.length, errors: errors.length, alive: ref.deref() !== undefined }));`;
      const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
        encoding: "utf8",
      });
      // A header reader made inside buildMatchers kept the compile's context, and with it the pool, alive.
      expect(JSON.parse(out.trim().split("\n").at(-1) ?? "{}")).toEqual({ policies: 3, errors: 0, alive: false });
    },
    30_000,
  );
});
