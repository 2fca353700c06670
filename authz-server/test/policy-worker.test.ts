/**
 * The policy worker thread, for real: documents sent in chunks arrive whole and in order, every failure of the
 * worker becomes a load error, and a stuck load times out instead of hanging reloads.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyWorkerClient } from "../src/app/policy-worker-client.js";
import { DEFAULT_YAML_LIMITS } from "../src/util/safe-yaml.js";
import { TS_WORKER_EXEC_ARGV } from "./support/ts-worker.js";

const lint = { workloads: [], trustDomains: ["cluster.local"] };
let dir = "";
let client: PolicyWorkerClient | null = null;
afterEach(async () => {
  await client?.close();
  client = null;
  if (dir) await rm(dir, { recursive: true, force: true });
});

function policy(name: string, rules: number): string {
  let text = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ns}\nspec:\n  rules:\n`;
  for (let i = 0; i < rules; i++) text += `  - to: [{operation: {paths: ["/${name}/${i}/*"]}}]\n`;
  return text;
}

describe("policy worker", () => {
  it("sends big documents rule list by rule list and small ones in batches, all arriving whole and in order", async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-worker-"));
    await writeFile(
      join(dir, "a.yaml"),
      `${policy("big", 400)}---\n${policy("small-1", 1)}---\n${policy("small-2", 2)}`,
    );
    client = new PolicyWorkerClient({ execArgv: TS_WORKER_EXEC_ARGV, chunkChars: 512 });
    const result = await client.load({
      paths: [dir],
      rootNamespace: "istio-system",
      limits: DEFAULT_YAML_LIMITS,
      lint,
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.documents.map((d) => (d.value as { metadata: { name: string } }).metadata.name)).toEqual([
      "big",
      "small-1",
      "small-2",
    ]);
    const rules = (result.documents[0]!.value as { spec: { rules: Array<{ to: unknown }> } }).spec.rules;
    expect(rules).toHaveLength(400);
    expect(JSON.stringify(rules[399])).toContain("/big/399/*");
    expect(result.documents[0]!.ruleLines[399]).toBe(405);
    expect(result.files).toEqual([join(dir, "a.yaml")]);
  });

  it("returns every load error with its line, and lint warnings with a good set", async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-worker-"));
    await writeFile(join(dir, "a.yaml"), "kind: [broken\n");
    await writeFile(join(dir, "b.yaml"), policy("b", 1).replace("paths:", "pathz:"));
    client = new PolicyWorkerClient({ execArgv: TS_WORKER_EXEC_ARGV });
    const result = await client.load({
      paths: [dir],
      rootNamespace: "istio-system",
      limits: DEFAULT_YAML_LIMITS,
      lint,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => `${e.file.split("/").pop()}:${e.line}`)).toEqual(["a.yaml:2", "b.yaml:6"]);
  });

  it("turns a worker that cannot start into a load error, and works again with a good one", async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-worker-"));
    await writeFile(join(dir, "a.yaml"), policy("a", 1));
    // Without the TypeScript loader the worker's .ts source cannot be loaded: the thread dies at start.
    client = new PolicyWorkerClient({ execArgv: [] });
    const broken = await client.load({
      paths: [dir],
      rootNamespace: "istio-system",
      limits: DEFAULT_YAML_LIMITS,
      lint,
    });
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.errors[0]!.message).toMatch(/^policy worker failed: /);
    await client.close();
    client = new PolicyWorkerClient({ execArgv: TS_WORKER_EXEC_ARGV });
    const good = await client.load({ paths: [dir], rootNamespace: "istio-system", limits: DEFAULT_YAML_LIMITS, lint });
    expect(good.ok).toBe(true);
  });

  it("fails a load that takes longer than its timeout instead of waiting for ever", async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-worker-"));
    await writeFile(join(dir, "a.yaml"), policy("a", 1));
    client = new PolicyWorkerClient({ execArgv: TS_WORKER_EXEC_ARGV, timeoutMs: 1 });
    const result = await client.load({
      paths: [dir],
      rootNamespace: "istio-system",
      limits: DEFAULT_YAML_LIMITS,
      lint,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]!.message).toMatch(/were not read and checked within 0\.001 s/);
  });
});
