import { describe, expect, it } from "vitest";
import { LabelMapper } from "./label-mapper.js";

const mapper = new LabelMapper("trustgate.io/sa", "cluster.local");

describe("label mapping", () => {
  it("reads a service account name from k8s.pod.label.<label> in the alert's namespace", () => {
    expect(mapper.map({ "k8s.ns.name": "services", "k8s.pod.label.trustgate.io/sa": "order" })).toEqual({
      ok: true,
      spiffeId: "spiffe://cluster.local/ns/services/sa/order",
    });
  });

  it("also reads k8s.pod.label[<label>] and the k8smeta plugin's fields", () => {
    expect(mapper.map({ "k8s.ns.name": "data", "k8s.pod.label[trustgate.io/sa]": "cache" })).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/data/sa/cache",
    });
    expect(mapper.map({ "k8smeta.ns.name": "data", "k8smeta.pod.label[trustgate.io/sa]": "database" })).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/data/sa/database",
    });
  });

  it("accepts a full SPIFFE ID in the trust domain, in the pod's own namespace", () => {
    expect(
      mapper.map({
        "k8s.ns.name": "services",
        "k8s.pod.label.trustgate.io/sa": "spiffe://cluster.local/ns/services/sa/billing",
      }),
    ).toMatchObject({ spiffeId: "spiffe://cluster.local/ns/services/sa/billing" });
    expect(
      mapper.map({
        "k8s.ns.name": "legacy",
        "k8s.pod.label.trustgate.io/sa": "spiffe://cluster.local/workload/legacy",
      }),
    ).toMatchObject({
      spiffeId: "spiffe://cluster.local/workload/legacy",
    });
  });

  it("never trusts a full SPIFFE ID label when the alert does not name the pod's namespace", () => {
    // Without k8s.ns.name the namespace guard has nothing to compare: a pod in any namespace could name any identity.
    for (const value of ["spiffe://cluster.local/ns/svc/sa/app", "spiffe://cluster.local/workload/legacy"]) {
      for (const namespace of [undefined, null, "<NA>", ""]) {
        const outcome = mapper.map({
          "k8s.pod.name": "app-7d9f-x1",
          "k8s.ns.name": namespace,
          "k8s.pod.label.trustgate.io/sa": value,
        });
        expect(outcome).toMatchObject({ ok: false, reason: "unknown-workload" });
        expect(outcome.ok ? "" : outcome.detail).toMatch(/no namespace/);
      }
    }
  });

  it("refuses a label pinning risk on another namespace, another trust domain, or an invalid value", () => {
    expect(
      mapper.map({
        "k8s.ns.name": "frontend",
        "k8s.pod.label.trustgate.io/sa": "spiffe://cluster.local/ns/services/sa/payment",
      }),
    ).toMatchObject({ ok: false, reason: "invalid-identity" });
    expect(
      mapper.map({
        "k8s.ns.name": "services",
        "k8s.pod.label.trustgate.io/sa": "spiffe://other.example/ns/services/sa/x",
      }),
    ).toMatchObject({
      ok: false,
      reason: "invalid-identity",
    });
    expect(mapper.map({ "k8s.pod.label.trustgate.io/sa": "spiffe://cluster.local" })).toMatchObject({
      ok: false,
      reason: "invalid-identity",
    });
    expect(mapper.map({ "k8s.ns.name": "services", "k8s.pod.label.trustgate.io/sa": "Order_Service" })).toMatchObject({
      ok: false,
      reason: "invalid-identity",
    });
    expect(
      mapper.map({ "k8s.ns.name": "services", "k8s.pod.label.trustgate.io/sa": "spiffe://cluster.local/ns/../sa/x" }),
    ).toMatchObject({
      ok: false,
      reason: "invalid-identity",
    });
  });

  it("does not guess: a missing label or namespace leaves the alert unattributed", () => {
    expect(mapper.map({ "k8s.ns.name": "services", "k8s.pod.name": "order-1" })).toMatchObject({
      ok: false,
      reason: "no-match",
    });
    expect(mapper.map({ "k8s.pod.label.trustgate.io/sa": "order" })).toMatchObject({
      ok: false,
      reason: "unknown-workload",
    });
    expect(
      mapper.map({ "k8s.ns.name": "<NA>", "k8s.pod.name": null, "k8s.pod.label.trustgate.io/sa": "<NA>" }),
    ).toMatchObject({
      ok: false,
      reason: "unknown-workload",
    });
  });

  it("needs a label name", () => {
    expect(() => new LabelMapper("", "cluster.local")).toThrow(/falco\.mapping\.label/);
  });
});
