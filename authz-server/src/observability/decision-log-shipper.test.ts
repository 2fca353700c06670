import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type OtlpReceiver, startOtlpReceiver } from "../../test/support/otlp-receiver.js";
import { decision } from "../model/decision.js";
import type { DecisionRecord } from "./decision-line.js";
import { type RunningShipper, startDecisionLogShipper } from "./decision-log-shipper.js";

const record: DecisionRecord = {
  decisionId: "d",
  decision: decision("deny", "no", "b/p", 0),
  policyVersion: "v",
  model: null,
  rejection: null,
  evaluation: null,
};

let receiver: OtlpReceiver | null = null;
let shipper: RunningShipper | null = null;
afterEach(async () => {
  await shipper?.shutdown();
  await receiver?.close();
  shipper = null;
  receiver = null;
});

describe("startDecisionLogShipper", () => {
  it("bounds the lines waiting for the collector in bytes as well as in lines, dropping and counting the rest", async () => {
    receiver = await startOtlpReceiver();
    const counter = new Counter({
      name: "shipped_total",
      help: "h",
      labelNames: ["result"],
      registers: [new Registry()],
    });
    const env = { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${receiver.endpoint}/v1/logs` };
    const saved = process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
    try {
      shipper = await startDecisionLogShipper(
        { maxQueue: 1000, maxQueueBytes: 10_000, batchSize: 512, intervalMs: 60_000 },
        counter,
        env,
      );
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = saved;
    }
    const line = `{"x":"${"a".repeat(2992)}"}\n`; // 3000 characters without the newline
    for (let i = 0; i < 10; i++) shipper.ship(line, record, null);
    expect({ pending: shipper.pending, bytes: shipper.pendingBytes }).toEqual({ pending: 3, bytes: 9000 });
    const count = async (result: string) =>
      (await counter.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    expect(await count("dropped")).toBe(7);
    await shipper.flush();
    expect({ pending: shipper.pending, bytes: shipper.pendingBytes, sent: await count("sent") }).toEqual({
      pending: 0,
      bytes: 0,
      sent: 3,
    });
    expect(receiver.logs.map((l) => l.body.length)).toEqual([3000, 3000, 3000]);
  });
});
