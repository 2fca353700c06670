import { describe, expect, it } from "vitest";
import { DEFAULT_YAML_LIMITS, parseYamlValue } from "../util/safe-yaml.js";
import { parseWorkloadInventory } from "./workload-inventory.js";

describe("workload inventory", () => {
  it("keeps labels named like JavaScript built-ins, off the prototype chain", () => {
    const yaml = parseYamlValue(
      "workloads:\n  - {name: a, namespace: ns, serviceAccount: a, labels: {__proto__: x, constructor: y, app: a}}\n  - {name: b, namespace: ns, serviceAccount: b}\n",
      DEFAULT_YAML_LIMITS,
    );
    if (!yaml.ok) throw new Error(yaml.problem.message);
    const parsed = parseWorkloadInventory(yaml.value, "w.yaml", "cluster.local");
    if (!parsed.ok) throw new Error(parsed.error);
    const labels = parsed.inventory.labelsOf("spiffe://cluster.local/ns/ns/sa/a")!;
    expect(Object.keys(labels)).toEqual(["__proto__", "constructor", "app"]);
    expect(Object.getPrototypeOf(labels)).toBeNull();
    const none = parsed.inventory.labelsOf("spiffe://cluster.local/ns/ns/sa/b")!;
    expect(Object.keys(none)).toEqual([]);
    expect((none as Record<string, unknown>).constructor).toBeUndefined();
  });

  it("refuses a YAML file over the limits with the file and line", () => {
    const yaml = parseYamlValue(`workloads:\n  - &w {name: a}\n  - [${"*w,".repeat(20)}]\n`, {
      ...DEFAULT_YAML_LIMITS,
      maxAliases: 5,
    });
    expect(yaml).toMatchObject({ ok: false, problem: { line: 3, message: "more than 5 aliases (yaml.maxAliases)" } });
  });
});
