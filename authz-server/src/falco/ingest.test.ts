import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { testConfig } from "../../test/support/config.js";
import { SHELL_IN_ORDER } from "../../test/support/falco-alerts.js";
import {
  EXEC_INTO_PAYMENT,
  ORDER_ATTACHES_TO_PAYMENT,
  PUBLISHED_DISALLOWED_USER_OVH,
  PUBLISHED_EXEC_OVH,
  SECRET_READ_BY_SHOP_API,
} from "../../test/support/k8s-audit-alerts.js";
import { createLogger } from "../observability/logger.js";
import type { RiskAlert } from "../risk/risk-alert.js";
import { resolveRiskSettings } from "../risk/risk-settings.js";
import { parseWorkloadInventory } from "../workloads/workload-inventory.js";
import { type FalcoAlert, validateAlert } from "./alert.js";
import { FalcoMetrics } from "./falco-metrics.js";
import { FalcoIngest } from "./ingest.js";
import { AlertMapper } from "./mapping/alert-mapper.js";
import { StaticMapper } from "./mapping/static-mapper.js";

const NOW = Date.parse("2026-11-28T10:00:10Z");
const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";

function setup(risk: Record<string, unknown> = {}) {
  const inventory = parseWorkloadInventory(
    {
      workloads: [
        {
          name: "order",
          namespace: "services",
          serviceAccount: "order",
          containers: ["order"],
          podPrefixes: ["order-"],
        },
        { name: "payment", namespace: "services", serviceAccount: "payment", podPrefixes: ["payment-"] },
      ],
    },
    "workloads.yaml",
    "cluster.local",
  );
  if (!inventory.ok) throw new Error(inventory.error);
  const registry = new Registry();
  const accepted: RiskAlert[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const ingest = new FalcoIngest({
    mapper: new AlertMapper(new StaticMapper(inventory.inventory), "cluster.local"),
    weights: resolveRiskSettings(testConfig({ risk }).risk),
    sink: {
      heard() {},
      accept(alert) {
        accepted.push(alert);
        return "added";
      },
    },
    metrics: new FalcoMetrics(registry, null),
    logger: createLogger(
      "info",
      new Writable({
        write(chunk, _enc, done) {
          logs.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    ),
    now: () => NOW,
  });
  return { ingest, accepted, logs, metrics: () => registry.metrics() };
}

function alert(value: object, extra: Record<string, unknown> = {}): FalcoAlert {
  const result = validateAlert({ ...value, ...extra });
  if (!result.ok) throw new Error(result.error);
  return result.alert;
}

describe("Falco ingest: alerts about several workloads", () => {
  it("hands one risk alert per attributed workload to the risk sink, with ids a resent uuid reproduces", async () => {
    const { ingest, accepted } = setup();
    const uuid = "0b5c2f0e-4d7a-4a51-9f3e-7c1d2e3f4a5b";
    const summary = await ingest.ingest([alert(ORDER_ATTACHES_TO_PAYMENT, { uuid })]);
    expect(summary).toEqual({
      accepted: 1,
      mapped: 1,
      unattributed: 0,
      internal: 0,
      heartbeats: 0,
      attributions: 2,
      identities: [ORDER, PAYMENT],
    });
    expect(accepted.map((a) => [a.spiffeId, a.id])).toEqual([
      [ORDER, `falcosidekick:${uuid}:caller`],
      [PAYMENT, `falcosidekick:${uuid}:target`],
    ]);
    expect(accepted.every((a) => a.rule === "Attach/Exec Pod" && a.priority === "notice" && a.weight === 4)).toBe(true);
    await ingest.ingest([alert(ORDER_ATTACHES_TO_PAYMENT, { uuid })]);
    expect(accepted.slice(2).map((a) => a.id)).toEqual(accepted.slice(0, 2).map((a) => a.id));
    // Without a uuid the ids are random, still one per workload.
    await ingest.ingest([alert(ORDER_ATTACHES_TO_PAYMENT)]);
    const [caller, target] = accepted.slice(4).map((a) => a.id);
    expect(caller).toMatch(/^[0-9a-f-]{36}:caller$/);
    expect(target).toBe(caller!.replace(/:caller$/, ":target"));
  });

  it("keeps a syscall alert's id as it was (one workload, no suffix)", async () => {
    const { ingest, accepted } = setup();
    await ingest.ingest([alert(SHELL_IN_ORDER, { uuid: "u-1" })]);
    expect(accepted.map((a) => [a.spiffeId, a.id])).toEqual([[ORDER, "falcosidekick:u-1"]]);
  });

  it("treats audit repeats by caller and target object: another pod or another caller is not a repeat", async () => {
    const { ingest, accepted } = setup();
    await ingest.ingest([
      alert(EXEC_INTO_PAYMENT),
      alert(EXEC_INTO_PAYMENT, {
        output_fields: { ...EXEC_INTO_PAYMENT.output_fields, "ka.target.name": "payment-6d5c4b3a2-zzzzz" },
      }),
      alert(EXEC_INTO_PAYMENT, {
        output_fields: { ...EXEC_INTO_PAYMENT.output_fields, "ka.user.name": "mallory@example.com" },
      }),
      alert(EXEC_INTO_PAYMENT),
    ]);
    const keys = accepted.map((a) => a.dedupKey);
    expect(new Set(keys).size).toBe(3);
    expect(keys[3]).toBe(keys[0]);
    expect(keys[0]).toContain("alice@example.com");
    expect(keys[0]).toContain("pods/services/payment-6d5c4b3a2-k9j8h");
  });

  it("weighs audit alerts by risk.sourceWeights", async () => {
    const { ingest, accepted } = setup({ sourceWeights: { k8s_audit: 2.5 } });
    await ingest.ingest([alert(EXEC_INTO_PAYMENT), alert(SHELL_IN_ORDER), alert(SECRET_READ_BY_SHOP_API)]);
    expect(accepted.map((a) => [a.rule, a.weight])).toEqual([
      ["Attach/Exec Pod", 10],
      ["Terminal shell in container", 50],
      ["K8s Secret Get Successfully", 50],
    ]);
  });

  it("counts per alert and per subject, and the unattributed reason of alerts about nobody", async () => {
    const { ingest, metrics, logs } = setup();
    const summary = await ingest.ingest([
      alert(ORDER_ATTACHES_TO_PAYMENT),
      alert(SECRET_READ_BY_SHOP_API),
      alert(PUBLISHED_DISALLOWED_USER_OVH),
      alert(PUBLISHED_EXEC_OVH),
      alert(SHELL_IN_ORDER),
    ]);
    expect(summary).toMatchObject({ accepted: 5, mapped: 3, unattributed: 2, attributions: 4 });
    const text = await metrics();
    expect(text).toContain('trustgate_falco_alerts_total{priority="notice",mapping="mapped"} 1');
    expect(text).toContain('trustgate_falco_alerts_total{priority="notice",mapping="unattributed"} 1');
    expect(text).toContain('trustgate_falco_alerts_total{priority="warning",mapping="unattributed"} 1');
    expect(text).toContain('trustgate_falco_unattributed_alerts_total{reason="not-a-workload"} 1');
    expect(text).toContain('trustgate_falco_unattributed_alerts_total{reason="no-match"} 1');
    expect(text).toContain('trustgate_falco_attributions_total{subject="caller",result="mapped"} 2');
    expect(text).toContain('trustgate_falco_attributions_total{subject="caller",result="unattributed"} 2');
    expect(text).toContain('trustgate_falco_attributions_total{subject="target",result="mapped"} 1');
    expect(text).toContain('trustgate_falco_attributions_total{subject="target",result="unattributed"} 1');
    expect(text).toContain('trustgate_falco_attributions_total{subject="workload",result="mapped"} 1');
    // One log line per minute at most; the first names the alert, its source and why.
    const lines = logs.filter((l) => String(l.event).startsWith("falco alert"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      event: "falco alert unattributed",
      rule: "Disallowed K8s User",
      source: "k8s_audit",
      reason: "not-a-workload",
    });
  });

  it("logs an audit alert attributed to its caller whose pod could not be mapped", async () => {
    const { ingest, logs } = setup();
    const intoUnknownPod = alert(ORDER_ATTACHES_TO_PAYMENT, {
      output_fields: { ...ORDER_ATTACHES_TO_PAYMENT.output_fields, "ka.target.name": "ledger-0" },
    });
    expect(await ingest.ingest([intoUnknownPod])).toMatchObject({ mapped: 1, unattributed: 0, attributions: 1 });
    expect(logs.find((l) => l.event === "falco alert partly unattributed")).toMatchObject({
      reason: "no-match",
      detail: expect.stringContaining("ledger-0"),
    });
  });
});
