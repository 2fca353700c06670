import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built modules, run in a fresh node with a young generation large enough that no collection runs while counting.
const DIST = new URL("../../dist/", import.meta.url);
const BENCH = new URL("../../bench/", import.meta.url);

/** Bytes of JavaScript heap one `evaluate` leaves behind, on the benchmark's 50-policy set and order → payment request. */
function bytesPerEvaluate(): number {
  const script = `
    import { mkdtempSync, writeFileSync } from "node:fs";
    import { tmpdir } from "node:os";
    import { join } from "node:path";
    const at = (p) => import(new URL(p, ${JSON.stringify(DIST.href)}).href);
    const { benchRequest } = await import(new URL("check-request.mjs", ${JSON.stringify(BENCH.href)}).href);
    const { benchPolicies } = await import(new URL("policies.mjs", ${JSON.stringify(BENCH.href)}).href);
    const { loadPolicySet } = await at("policy/load-policy-set.js");
    const { evaluate } = await at("policy/evaluate.js");
    const { fromCheckRequest, DEFAULT_REQUEST_SETTINGS } = await at("extauthz/from-check-request.js");
    const { CertificateCache } = await at("identity/certificate-cache.js");
    const { quietRiskView } = await at("model/risk-view.js");
    const dir = mkdtempSync(join(tmpdir(), "trustgate-eval-"));
    writeFileSync(join(dir, "bench.yaml"), benchPolicies());
    const loaded = await loadPolicySet([dir], { rootNamespace: "istio-system" });
    const env = { identity: { trustDomains: new Set(["cluster.local"]), trustFilterHeaders: true },
      certificates: new CertificateCache(), risk: quietRiskView, request: DEFAULT_REQUEST_SETTINGS, nowMs: Date.now() };
    const models = Array.from({ length: 64 }, () => fromCheckRequest(benchRequest(), env).model);
    if (!evaluate(loaded.set, models[0]).decision.allowed) throw new Error("the benchmark request should be allowed");
    let sink = 0;
    for (let i = 0; i < 200_000; i++) sink += evaluate(loaded.set, models[i & 63]).decision.rule;
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) sink += evaluate(loaded.set, models[i & 63]).decision.rule;
    console.log(((process.memoryUsage().heapUsed - before) / 20_000).toFixed(0), sink);`;
  const args = ["--expose-gc", "--max-semi-space-size=128", "--min-semi-space-size=128", "--input-type=module"];
  const out = execFileSync(process.execPath, [...args, "-e", script], { encoding: "utf8" });
  return Number(out.trim().split(" ")[0]);
}

describe("evaluate", () => {
  // With for-of loops over the policies, rules, clauses and patterns it left ~2 KB per Check (iterator results: the
  // matchers are many classes, so V8 cannot turn those loops into plain array walks); what is left is its result.
  it.skipIf(!existsSync(fileURLToPath(new URL("policy/evaluate.js", DIST))))(
    "allocates under 1 KB per decision on a 50-policy set",
    () => {
      expect(bytesPerEvaluate()).toBeLessThan(1024);
    },
    60_000,
  );
});
