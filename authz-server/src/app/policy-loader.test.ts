import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The built modules, run in a fresh node with --expose-gc: whether a document can be collected is a fact about the
// whole heap, so it is checked in a child that holds nothing else.
const LOADER = new URL("../../dist/app/policy-loader.js", import.meta.url);
const BUILT = (path: string) => JSON.stringify(new URL(`../../dist/${path}`, import.meta.url).href);

const dir = mkdtempSync(join(tmpdir(), "trustgate-loader-"));
writeFileSync(
  join(dir, "policies.yaml"),
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payment-allow, namespace: services}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/services/sa/order"]}}]
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Loads the directory through a PolicyLoader (its worker thread included), keeps a WeakRef to one checked document,
 * then collects: whether the document is still alive after the load (the active set itself is kept).
 */
function documentOutlivesLoad(keepInputs: boolean): boolean {
  const script = `
    const { PolicyLoader } = await import(${BUILT("app/policy-loader.js")});
    const { PolicyHolder } = await import(${BUILT("policy/policy-holder.js")});
    const { Metrics } = await import(${BUILT("observability/metrics.js")});
    const { PolicyMetrics } = await import(${BUILT("app/policy-metrics.js")});
    const { DEFAULT_YAML_LIMITS } = await import(${BUILT("util/safe-yaml.js")});
    const { default: pino } = await import("pino");
    const metrics = new Metrics({ defaultMetrics: false });
    const loader = new PolicyLoader({
      dirs: [${JSON.stringify(dir)}],
      rootNamespace: "istio-system",
      limits: DEFAULT_YAML_LIMITS,
      lint: { workloads: [], trustDomains: ["cluster.local"] },
      holder: new PolicyHolder(),
      metrics,
      policyMetrics: new PolicyMetrics(metrics.registry),
      logger: pino({ enabled: false }),
      keepInputs: ${keepInputs},
      // The worker thread stays up past the check: its idle timer is what used to hold the documents.
      worker: { idleMs: 60_000, execArgv: [] },
    });
    // Catch the documents on their way from the worker thread to the compiler.
    const worker = loader.worker;
    const load = worker.load.bind(worker);
    let ref = null;
    worker.load = async (parameters) => {
      const result = await load(parameters);
      if (result.ok) ref = new WeakRef(result.documents[0].value);
      return result;
    };
    const set = await loader.loadInitial();
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
    console.log(JSON.stringify({ policies: set.policies.length, alive: ref?.deref() !== undefined }));
    await loader.close();`;
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    encoding: "utf8",
    cwd: fileURLToPath(new URL("../../..", import.meta.url)),
  });
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { policies: number; alive: boolean };
  expect(result.policies).toBe(1);
  return result.alive;
}

describe("PolicyLoader", () => {
  it.skipIf(!existsSync(fileURLToPath(LOADER)))(
    "lets a loaded set's documents go without workers, and keeps them for workers (keepInputs)",
    () => {
      // Without workers nothing reads them: 5,000 policies' documents held ~9 MB of heap for the life of the process.
      expect(documentOutlivesLoad(false)).toBe(false);
      expect(documentOutlivesLoad(true)).toBe(true);
    },
    30_000,
  );
});
