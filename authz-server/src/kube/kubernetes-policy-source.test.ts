import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, startKubeApiServer } from "../../../test/support/kube-api-server.js";
import { tgp } from "../../test/support/kube-policies.js";
import { createLogger } from "../observability/logger.js";
import type { CompiledPolicy, FieldCheck } from "../policy/compiled.js";
import { kubeApi } from "./kube-api.js";
import { loadKubeConfig } from "./kube-config.js";
import { KubernetesPolicySource, type SourceChange } from "./kubernetes-policy-source.js";

let api: KubeApiServer;
let source: KubernetesPolicySource | null = null;

beforeEach(async () => {
  api = await startKubeApiServer();
});

afterEach(async () => {
  await source?.stop();
  source = null;
  await api.stop();
});

const quiet = createLogger("info", new Writable({ write: (_c, _e, done) => done() }));

// The same callers, methods and paths in every namespace's policy, as a large mesh repeats them.
const SPEC = {
  action: "ALLOW",
  rules: [
    {
      from: [{ source: { principals: ["cluster.local/ns/services/sa/order"] } }],
      to: [{ operation: { methods: ["GET", "POST"], paths: ["/api/v1/*"] } }],
    },
  ],
};

function checksOf(policies: readonly CompiledPolicy[], id: string): FieldCheck[] {
  const rule = policies.find((p) => p.id === id)!.rules[0]!;
  return [...(rule.from ?? []).flat(), ...(rule.to ?? []).flat()];
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("KubernetesPolicySource", () => {
  it("compiles the fields its objects repeat once per burst, and keeps no pool between bursts", async () => {
    api.create("trustgatepolicies", tgp("services", "a", SPEC));
    api.create("trustgatepolicies", tgp("frontend", "b", SPEC));
    const changes: SourceChange[] = [];
    const kc = loadKubeConfig(api.kubeconfigPath);
    source = new KubernetesPolicySource({
      kubeConfig: kc,
      api: kubeApi(kc),
      namespaces: [],
      logger: quiet,
      onChange: (c) => changes.push(c),
    });
    source.start();
    await until(() => changes.some((c) => c.policiesChanged), "the first list");
    const listed = source.policies().policies;
    const [a, b] = [checksOf(listed, "services/a"), checksOf(listed, "frontend/b")];
    expect(a).toHaveLength(3);
    for (let i = 0; i < a.length; i++) expect(b[i], `check ${i}`).toBe(a[i]);

    // A later object is another burst: compiled on its own, so no pool outlives the burst it served.
    const before = changes.length;
    api.create("trustgatepolicies", tgp("ops", "c", SPEC));
    await until(() => changes.length > before && source!.policies().policies.length === 3, "the added object");
    const c = checksOf(source.policies().policies, "ops/c");
    expect(c.map((check) => check.field)).toEqual(a.map((check) => check.field));
    for (let i = 0; i < c.length; i++) expect(c[i], `check ${i}`).not.toBe(a[i]);
  });
});
