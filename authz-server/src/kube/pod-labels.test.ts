import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PodLabelIndex } from "./pod-labels.js";

function pod(
  namespace: string,
  name: string,
  sa: string,
  labels: Record<string, string>,
  ip?: string,
  extra: { hostNetwork?: boolean; phase?: string } = {},
): V1Pod {
  return {
    metadata: { namespace, name, labels },
    spec: { serviceAccountName: sa, hostNetwork: extra.hostNetwork, containers: [] },
    status: { phase: extra.phase ?? "Running", podIP: ip, podIPs: ip ? [{ ip }] : [] },
  };
}

describe("pod label index", () => {
  it("answers by IP when the pod matches namespace and service account, else by service account", () => {
    const index = new PodLabelIndex();
    index.put(pod("shop", "api-1", "api", { app: "api", track: "stable" }, "10.0.0.1"));
    index.put(pod("shop", "api-2", "api", { app: "api", track: "canary" }, "10.0.0.2"));
    expect(index.labelsFor("shop", "api", "10.0.0.2")).toEqual({ app: "api", track: "canary" });
    expect(index.labelsFor("shop", "", "10.0.0.1")).toEqual({ app: "api", track: "stable" });
    expect(index.labelsFor("shop", "api", "10.9.9.9")).toEqual({ app: "api" }); // what both pods share
    expect(index.labelsFor("shop", "web", "10.0.0.1")).toBeUndefined(); // IP of another workload
    expect(index.labelsFor("bank", "", "10.0.0.1")).toBeUndefined(); // IP in another namespace
    expect(index.labelsFor("shop", "", "10.9.9.9")).toBeUndefined();
  });

  it("never answers by an IP two pods claim, a hostNetwork pod's or a finished pod's", () => {
    const index = new PodLabelIndex();
    index.put(pod("shop", "a", "a", { app: "a" }, "10.0.0.1"));
    index.put(pod("shop", "b", "b", { app: "b" }, "10.0.0.1"));
    expect(index.labelsFor("shop", "", "10.0.0.1")).toBeUndefined();
    index.remove(pod("shop", "b", "b", {}, "10.0.0.1"));
    expect(index.labelsFor("shop", "", "10.0.0.1")).toEqual({ app: "a" });
    index.put(pod("shop", "node-agent", "agent", { app: "agent" }, "192.168.1.1", { hostNetwork: true }));
    index.put(pod("shop", "job-1", "job", { app: "job" }, "10.0.0.9", { phase: "Succeeded" }));
    expect(index.labelsFor("shop", "", "192.168.1.1")).toBeUndefined();
    expect(index.labelsFor("shop", "", "10.0.0.9")).toBeUndefined();
    expect(index.labelsFor("shop", "job", "10.0.0.9")).toEqual({ app: "job" });
  });

  it("a relist drops pods not seen again; updates replace; identical label sets are one object", () => {
    const index = new PodLabelIndex();
    index.startList();
    index.put(pod("shop", "a-1", "a", { app: "a" }, "10.0.0.1"));
    index.put(pod("shop", "a-2", "a", { app: "a" }, "10.0.0.2"));
    index.endList();
    expect(index.labelsFor("shop", "a", "10.0.0.1")).toBe(index.labelsFor("shop", "a", "10.0.0.2"));
    index.startList();
    index.put(pod("shop", "a-2", "a", { app: "a", v: "2" }, "10.0.0.3"));
    index.endList();
    expect(index.size).toBe(1);
    expect(index.labelsFor("shop", "", "10.0.0.1")).toBeUndefined();
    expect(index.labelsFor("shop", "", "10.0.0.2")).toBeUndefined();
    expect(index.labelsFor("shop", "", "10.0.0.3")).toEqual({ app: "a", v: "2" });
    expect(index.labelsFor("shop", "a", "")).toEqual({ app: "a", v: "2" });
  });

  it("label maps have no prototype: a label key never names a built-in", () => {
    const index = new PodLabelIndex();
    index.put(pod("shop", "a", "a", { app: "a" }, "10.0.0.1"));
    const labels = index.labelsFor("shop", "", "10.0.0.1")!;
    expect(Object.getPrototypeOf(labels)).toBeNull();
    expect((labels as Record<string, unknown>).constructor).toBeUndefined();
    expect(Object.isFrozen(labels)).toBe(true);
  });
});
