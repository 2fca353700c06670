import { describe, expect, it } from "vitest";
import { parseWorkloadInventory } from "../../workloads/workload-inventory.js";
import { StaticMapper } from "./static-mapper.js";

const parsed = parseWorkloadInventory(
  {
    workloads: [
      { name: "order", namespace: "services", serviceAccount: "order", containers: ["order", "envoy-order"] },
      {
        name: "payment",
        namespace: "services",
        serviceAccount: "payment",
        podPrefixes: ["payment-"],
        images: ["registry.example/shop/payment"],
      },
      { name: "payment-v2", namespace: "services", serviceAccount: "payment-v2", podPrefixes: ["payment-v2-"] },
      { name: "cache", namespace: "data", serviceAccount: "cache", images: ["docker.io/library/redis:7.2"] },
      // Two workloads claiming one container name: ambiguous, never guessed.
      { name: "a", namespace: "x", serviceAccount: "a", containers: ["shared"] },
      { name: "b", namespace: "x", serviceAccount: "b", containers: ["shared"] },
    ],
  },
  "workloads.yaml",
  "cluster.local",
);
if (!parsed.ok) throw new Error(parsed.error);
const inventory = parsed.inventory;

const mapper = new StaticMapper(inventory);

describe("static mapping (workload inventory)", () => {
  it("maps an exact container name", () => {
    expect(mapper.map({ "container.name": "order", "container.id": "abc" })).toEqual({
      ok: true,
      spiffeId: "spiffe://cluster.local/ns/services/sa/order",
    });
    expect(mapper.map({ "container.name": "envoy-order" })).toMatchObject({ ok: true });
  });

  it("maps the longest matching pod-name prefix", () => {
    expect(mapper.map({ "k8s.pod.name": "payment-6d5c4b3a2-k9j8h" })).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/services/sa/payment",
    });
    expect(mapper.map({ "k8s.pod.name": "payment-v2-77f8-abcde" })).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/services/sa/payment-v2",
    });
  });

  it("maps a pod known only by namespace and name by the prefixes of that namespace's workloads", () => {
    expect(mapper.mapPod("services", "payment-6d5c4b3a2-k9j8h")).toEqual({
      ok: true,
      spiffeId: "spiffe://cluster.local/ns/services/sa/payment",
    });
    expect(mapper.mapPod("services", "payment-v2-77f8-abcde")).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/services/sa/payment-v2",
    });
    // The same pod name in another namespace is another workload's pod (or nobody's).
    expect(mapper.mapPod("data", "payment-6d5c4b3a2-k9j8h")).toMatchObject({ ok: false, reason: "no-match" });
    expect(mapper.mapPod("services", "order-7c9f8d6b5-x2x4q")).toMatchObject({ ok: false, reason: "no-match" });
  });

  it("maps images by repository, repository:tag, or the full image", () => {
    expect(
      mapper.map({ "container.image.repository": "registry.example/shop/payment", "container.image.tag": "2" }),
    ).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/services/sa/payment",
    });
    expect(
      mapper.map({ "container.image.repository": "docker.io/library/redis", "container.image.tag": "7.2" }),
    ).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/data/sa/cache",
    });
    expect(mapper.map({ "container.image": "docker.io/library/redis:7.2" })).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/data/sa/cache",
    });
    expect(
      mapper.map({ "container.image.repository": "docker.io/library/redis", "container.image.tag": "6" }),
    ).toMatchObject({
      ok: false,
      reason: "no-match",
    });
  });

  it("prefers the container name over pod prefix and image", () => {
    expect(
      mapper.map({
        "container.name": "order",
        "k8s.pod.name": "payment-1",
        "container.image.repository": "registry.example/shop/payment",
      }),
    ).toMatchObject({ spiffeId: "spiffe://cluster.local/ns/services/sa/order" });
  });

  it("refuses to guess between workloads sharing a value", () => {
    expect(mapper.map({ "container.name": "shared" })).toMatchObject({ ok: false, reason: "ambiguous" });
  });

  it("attributes an alert that names its Kubernetes namespace only to a workload of that namespace", () => {
    const order = "spiffe://cluster.local/ns/services/sa/order";
    expect(mapper.map({ "container.name": "order", "k8s.ns.name": "services" })).toEqual({ ok: true, spiffeId: order });
    expect(mapper.map({ "container.name": "order" })).toEqual({ ok: true, spiffeId: order });
    // A pod in another namespace naming its container, pod or image after a workload does not pin alerts on it.
    for (const fields of [
      { "container.name": "order", "k8s.ns.name": "sandbox" },
      { "k8s.pod.name": "payment-v2-6d5c4b3a2-evil1", "container.name": "app", "k8s.ns.name": "sandbox" },
      { "container.image": "docker.io/library/redis:7.2", "k8smeta.ns.name": "sandbox" },
    ]) {
      expect(mapper.map(fields), JSON.stringify(fields)).toMatchObject({ ok: false, reason: "no-match" });
    }
  });

  it('counts null, "<NA>", "" and a container "host" (a host process) as an unknown workload', () => {
    expect(mapper.map({ "container.name": "host", "container.id": "host" })).toMatchObject({
      ok: false,
      reason: "unknown-workload",
    });
    for (const value of [null, "<NA>", "", undefined, 42]) {
      expect(
        mapper.map({
          "container.name": value,
          "k8s.pod.name": value,
          "container.image.repository": value,
          "container.id": "host",
        }),
      ).toMatchObject({ ok: false, reason: "unknown-workload" });
    }
  });

  it("says no-match for known values that nothing in the inventory claims", () => {
    expect(mapper.map({ "container.name": "falco" })).toMatchObject({ ok: false, reason: "no-match" });
  });
});
