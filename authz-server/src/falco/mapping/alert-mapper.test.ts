import { describe, expect, it } from "vitest";
import { SHELL_IN_ORDER } from "../../../test/support/falco-alerts.js";
import {
  ANONYMOUS_REQUEST,
  DEBUG_CONTAINER_IN_CACHE,
  EXEC_INTO_PAYMENT,
  ORDER_ATTACHES_TO_PAYMENT,
  PORT_FORWARD_TO_DATABASE,
  PUBLISHED_DISALLOWED_USER_OVH,
  PUBLISHED_EXEC_EKS,
  PUBLISHED_EXEC_OVH,
  PUBLISHED_PRIVILEGED_POD_BY_REPLICASET_CONTROLLER,
  PUBLISHED_SERVICEACCOUNT_CREATED_EKS,
  SECRET_READ_BY_SHOP_API,
  withFields,
} from "../../../test/support/k8s-audit-alerts.js";
import { parseWorkloadInventory } from "../../workloads/workload-inventory.js";
import { type FalcoAlert, validateAlert } from "../alert.js";
import { AlertMapper, type Attributions, unattributedReason } from "./alert-mapper.js";
import { LabelMapper } from "./label-mapper.js";
import { StaticMapper } from "./static-mapper.js";
import type { MappingOutcome, OutputFields, WorkloadMapper } from "./workload-mapper.js";

const ID = {
  order: "spiffe://cluster.local/ns/services/sa/order",
  payment: "spiffe://cluster.local/ns/services/sa/payment",
  database: "spiffe://cluster.local/ns/data/sa/database",
  cache: "spiffe://cluster.local/ns/data/sa/cache",
  shopApi: "spiffe://cluster.local/ns/shop/sa/api",
};

const inventory = parseWorkloadInventory(
  {
    workloads: [
      { name: "order", namespace: "services", serviceAccount: "order", containers: ["order"], podPrefixes: ["order-"] },
      { name: "payment", namespace: "services", serviceAccount: "payment", podPrefixes: ["payment-"] },
      { name: "database", namespace: "data", serviceAccount: "database", podPrefixes: ["database-"] },
      { name: "cache", namespace: "data", serviceAccount: "cache", podPrefixes: ["cache-"] },
      // Two workloads in one namespace claiming one prefix: ambiguous, never guessed.
      { name: "web-a", namespace: "frontend", serviceAccount: "web-a", podPrefixes: ["web-"] },
      { name: "web-b", namespace: "frontend", serviceAccount: "web-b", podPrefixes: ["web-"] },
    ],
  },
  "workloads.yaml",
  "cluster.local",
);
if (!inventory.ok) throw new Error(inventory.error);

const byStatic = new AlertMapper(new StaticMapper(inventory.inventory), "cluster.local");
const byLabel = new AlertMapper(new LabelMapper("trustgate.io/sa", "cluster.local"), "cluster.local");

function alert(value: object): FalcoAlert {
  const result = validateAlert(value);
  if (!result.ok) throw new Error(result.error);
  return result.alert;
}

function attributions(mapper: AlertMapper, value: object): Attributions {
  const result = mapper.map(alert(value));
  if (result instanceof Promise) throw new Error("expected a synchronous mapping");
  return result;
}

/** subject → SPIFFE ID, or subject → reason when unattributed. */
function summary(list: Attributions): Record<string, string> {
  return Object.fromEntries(list.map((a) => [a.subject, a.outcome.ok ? a.outcome.spiffeId : a.outcome.reason]));
}

describe("k8s_audit alerts: the API caller", () => {
  it("maps system:serviceaccount:<ns>:<sa> to that service account's SPIFFE ID, with no inventory entry", () => {
    expect(summary(attributions(byStatic, SECRET_READ_BY_SHOP_API))).toEqual({ caller: ID.shopApi });
    expect(summary(attributions(byLabel, SECRET_READ_BY_SHOP_API))).toEqual({ caller: ID.shopApi });
    const other = new AlertMapper(new StaticMapper(inventory.inventory), "prod.example.org");
    expect(summary(attributions(other, SECRET_READ_BY_SHOP_API))).toEqual({
      caller: "spiffe://prod.example.org/ns/shop/sa/api",
    });
  });

  it("maps control-plane service accounts too (a pod they create is not a pod they reached into)", () => {
    expect(summary(attributions(byStatic, PUBLISHED_PRIVILEGED_POD_BY_REPLICASET_CONTROLLER))).toEqual({
      caller: "spiffe://cluster.local/ns/kube-system/sa/replicaset-controller",
    });
  });

  it("leaves people, nodes and anonymous callers unattributed (not-a-workload) when no pod is involved", () => {
    for (const [fixture, user] of [
      [PUBLISHED_DISALLOWED_USER_OVH, "yacht"],
      [PUBLISHED_SERVICEACCOUNT_CREATED_EKS, "system:node:ip-192-168-34-135.ec2.internal"],
      [ANONYMOUS_REQUEST, "system:anonymous"],
    ] as const) {
      const list = attributions(byStatic, fixture);
      expect(summary(list)).toEqual({ caller: "not-a-workload" });
      expect(unattributedReason(list)).toEqual({
        reason: "not-a-workload",
        detail: `API user "${user}" is not a service account`,
      });
    }
  });

  it("refuses service-account user names that are malformed or not Kubernetes names (invalid-identity)", () => {
    for (const user of [
      "system:serviceaccount:shop",
      "system:serviceaccount:shop:api:extra",
      "system:serviceaccount:Shop:api",
      "system:serviceaccount:shop:API",
      "system:serviceaccount::api",
      "system:serviceaccount:shop:",
      "system:serviceaccount:../etc:api",
      `system:serviceaccount:${"n".repeat(64)}:api`,
    ]) {
      const list = attributions(byStatic, withFields(SECRET_READ_BY_SHOP_API, { "ka.user.name": user }));
      expect(summary(list), user).toEqual({ caller: "invalid-identity" });
    }
  });

  it("says so when the alert names no user (unknown-workload)", () => {
    for (const user of [null, "<NA>", "", 42]) {
      const list = attributions(byStatic, withFields(PUBLISHED_DISALLOWED_USER_OVH, { "ka.user.name": user }));
      expect(summary(list)).toEqual({ caller: "unknown-workload" });
    }
  });
});

describe("k8s_audit alerts: the pod a request reached into", () => {
  it("maps exec, attach, portforward and ephemeral containers to the pod's workload (static: prefixes in its namespace)", () => {
    expect(summary(attributions(byStatic, EXEC_INTO_PAYMENT))).toEqual({
      caller: "not-a-workload",
      target: ID.payment,
    });
    expect(summary(attributions(byStatic, PORT_FORWARD_TO_DATABASE))).toEqual({
      caller: "not-a-workload",
      target: ID.database,
    });
    expect(summary(attributions(byStatic, DEBUG_CONTAINER_IN_CACHE))).toEqual({
      caller: "not-a-workload",
      target: ID.cache,
    });
  });

  it("maps both the service-account caller and the pod, each its own attribution", () => {
    expect(attributions(byStatic, ORDER_ATTACHES_TO_PAYMENT)).toEqual([
      { subject: "caller", outcome: { ok: true, spiffeId: ID.order } },
      { subject: "target", outcome: { ok: true, spiffeId: ID.payment } },
    ]);
  });

  it("attributes once when the caller execs into a pod of its own workload", () => {
    const own = withFields(ORDER_ATTACHES_TO_PAYMENT, { "ka.target.name": "order-7c9f8d6b5-x2x4q" });
    expect(attributions(byStatic, own)).toEqual([{ subject: "caller", outcome: { ok: true, spiffeId: ID.order } }]);
  });

  it("matches pod prefixes only within the request's namespace", () => {
    const elsewhere = withFields(EXEC_INTO_PAYMENT, { "ka.target.namespace": "frontend" });
    expect(summary(attributions(byStatic, elsewhere))).toEqual({ caller: "not-a-workload", target: "no-match" });
    const ambiguous = withFields(EXEC_INTO_PAYMENT, {
      "ka.target.namespace": "frontend",
      "ka.target.name": "web-5f6d7c8b9-abcde",
    });
    expect(summary(attributions(byStatic, ambiguous))).toEqual({ caller: "not-a-workload", target: "ambiguous" });
  });

  it("counts an unattributed alert under its pod's reason (published examples: pods of no inventory workload)", () => {
    for (const fixture of [PUBLISHED_EXEC_EKS, PUBLISHED_EXEC_OVH]) {
      const list = attributions(byStatic, fixture);
      expect(summary(list)).toEqual({ caller: "not-a-workload", target: "no-match" });
      const why = unattributedReason(list);
      expect(why.reason).toBe("no-match");
      expect(why.detail).toMatch(/^caller: API user "kubernetes-admin" is not a service account; target: no inventory/);
    }
  });

  it("cannot map a pod known only by name with the label strategy (unsupported), but still maps the caller", () => {
    const list = attributions(byLabel, EXEC_INTO_PAYMENT);
    expect(summary(list)).toEqual({ caller: "not-a-workload", target: "unsupported" });
    expect(unattributedReason(list).reason).toBe("unsupported");
    expect(summary(attributions(byLabel, ORDER_ATTACHES_TO_PAYMENT))).toEqual({
      caller: ID.order,
      target: "unsupported",
    });
  });

  it("needs the target's namespace and name, as valid Kubernetes names", () => {
    expect(summary(attributions(byStatic, withFields(EXEC_INTO_PAYMENT, { "ka.target.namespace": null })))).toEqual({
      caller: "not-a-workload",
      target: "unknown-workload",
    });
    expect(summary(attributions(byStatic, withFields(EXEC_INTO_PAYMENT, { "ka.target.name": "<NA>" })))).toEqual({
      caller: "not-a-workload",
      target: "unknown-workload",
    });
    for (const [namespace, name] of [
      ["services", "payment-6d5c4b3a2-k9j8h/../../x"],
      ["services", "Payment-1"],
      ["Services", "payment-1"],
      ["services", `payment-${"x".repeat(250)}`],
    ]) {
      const fields = { "ka.target.namespace": namespace, "ka.target.name": name };
      expect(summary(attributions(byStatic, withFields(EXEC_INTO_PAYMENT, fields))), name).toEqual({
        caller: "not-a-workload",
        target: "invalid-identity",
      });
    }
  });

  it("has no pod target for other requests, other resources, or requests the API server refused", () => {
    const noTarget = { caller: "not-a-workload" };
    for (const fields of [
      { "ka.target.subresource": "log" },
      { "ka.target.subresource": "status" },
      { "ka.target.subresource": null },
      { "ka.target.resource": "nodes", "ka.target.subresource": "proxy" },
      { "ka.target.resource": "services", "ka.target.subresource": "exec" },
      { "ka.response.code": "403" },
      { "ka.response.code": "500" },
      { "ka.response.code": 404 },
    ]) {
      expect(summary(attributions(byStatic, withFields(EXEC_INTO_PAYMENT, fields))), JSON.stringify(fields)).toEqual(
        noTarget,
      );
    }
    // Accepted requests (101 Switching Protocols for exec streams, 2xx) did reach the pod.
    for (const code of ["101", "200", "201"]) {
      const accepted = withFields(EXEC_INTO_PAYMENT, { "ka.response.code": code });
      expect(summary(attributions(byStatic, accepted))).toMatchObject({ target: ID.payment });
    }
  });

  it("maps nothing from k8s_audit fields in alerts of other sources, and ka.* fields never map a syscall alert", () => {
    const syscall = attributions(byStatic, SHELL_IN_ORDER);
    expect(syscall).toEqual([{ subject: "workload", outcome: { ok: true, spiffeId: ID.order } }]);
    const disguised = { ...ORDER_ATTACHES_TO_PAYMENT, source: "syscall" };
    expect(summary(attributions(byStatic, disguised))).toEqual({ workload: "unknown-workload" });
  });
});

describe("asynchronous strategies", () => {
  it("waits for a pod lookup (a Kubernetes cache miss) and keeps the caller", async () => {
    const calls: string[] = [];
    const slow: WorkloadMapper = {
      strategy: "kubernetes",
      map: (_fields: OutputFields): MappingOutcome => ({ ok: false, reason: "no-match", detail: "" }),
      mapPod: async (namespace: string, pod: string): Promise<MappingOutcome> => {
        calls.push(`${namespace}/${pod}`);
        return { ok: true, spiffeId: ID.payment };
      },
      start: async () => {},
      stop: async () => {},
    };
    const result = new AlertMapper(slow, "cluster.local").map(alert(ORDER_ATTACHES_TO_PAYMENT));
    expect(result).toBeInstanceOf(Promise);
    expect(summary(await result)).toEqual({ caller: ID.order, target: ID.payment });
    expect(calls).toEqual(["services/payment-6d5c4b3a2-k9j8h"]);
  });
});
