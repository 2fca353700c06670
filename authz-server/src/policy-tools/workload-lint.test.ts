import { describe, expect, it } from "vitest";
import type { Workload } from "../workloads/workload-inventory.js";
import { lintWorkloads } from "./workload-lint.js";

function workload(name: string, fields: Partial<Workload> = {}): Workload {
  return {
    name,
    namespace: "shop",
    serviceAccount: name,
    spiffeId: `spiffe://cluster.local/ns/shop/sa/${name}`,
    labels: {},
    containers: [],
    podPrefixes: [],
    images: [],
    ...fields,
  };
}

describe("lintWorkloads", () => {
  it("warns when two workloads share a container name, a pod prefix (or one prefixes the other), or an image", () => {
    const warnings = lintWorkloads(
      [
        workload("order", { containers: ["order", "envoy"], podPrefixes: ["order-"], images: ["shop/order"] }),
        workload("order-history", { containers: ["history", "envoy"], podPrefixes: ["order-history-"] }),
        workload("payment", { containers: ["payment"], podPrefixes: ["payment-"], images: ["shop/order"] }),
      ],
      "workloads.yaml",
    );
    expect(warnings.map((w) => [w.code, w.policy])).toEqual([
      ["workload-container-overlap", "workloads order and order-history"],
      ["workload-prefix-overlap", "workloads order and order-history"],
      ["workload-image-overlap", "workloads order and payment"],
    ]);
    expect(warnings[1]!.message).toContain('"order-" is a prefix of "order-history-"');
    expect(warnings.every((w) => w.file === "workloads.yaml")).toBe(true);
  });

  it("is silent for an inventory whose names are distinct", () => {
    expect(
      lintWorkloads(
        [
          workload("web", { containers: ["web"], podPrefixes: ["web-"] }),
          workload("api", { containers: ["api"], podPrefixes: ["api-"] }),
        ],
        "w.yaml",
      ),
    ).toEqual([]);
  });
});
