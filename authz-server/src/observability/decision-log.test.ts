import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { model } from "../../test/support/fixtures.js";
import { decision } from "../model/decision.js";
import { sensitiveHeaders } from "../model/sensitive-headers.js";
import { type DecisionLineShipper, DecisionLog, type DecisionLogSettings } from "./decision-log.js";
import { createLogger } from "./logger.js";

function log(settings: Partial<DecisionLogSettings> = {}, shipper: DecisionLineShipper | null = null) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const d = new DecisionLog(
    createLogger("info", sink),
    { mode: "all", sampleRate: 1, ...settings },
    Math.random,
    shipper,
  );
  const written = async () => {
    d.flush();
    await new Promise((r) => setImmediate(r));
    return lines.map((l) => JSON.parse(l));
  };
  return { d, written };
}

const request = model({
  principal: "spiffe://cluster.local/ns/services/sa/order",
  headers: { authorization: "Bearer secret", "x-tenant-key": "k", "x-request-id": "r" },
});

function record(allowed: boolean) {
  return {
    decisionId: "d1",
    decision: allowed ? decision("allow", "ok", "ns/p", 0) : decision("deny", "no", "ns/p", 0),
    policyVersion: "v",
    model: request,
    rejection: null,
    evaluation: null,
  };
}

describe("decision log lines", () => {
  it("name the trace and span when the request had a trace context", async () => {
    const { d, written } = log();
    d.write(record(true), 0.1, { traceId: "a".repeat(32), spanId: "b".repeat(16) });
    d.write(record(true), 0.1);
    const [traced, plain] = await written();
    expect(traced).toMatchObject({ trace_id: "a".repeat(32), span_id: "b".repeat(16) });
    expect(plain).not.toHaveProperty("trace_id");
  });

  it("carry headers on denies only, unless allowHeaders asks; redact the built-in and the configured names", async () => {
    const { d, written } = log({ sensitiveHeaders: sensitiveHeaders(["X-Tenant-Key"]) });
    d.write(record(false), 0.1);
    d.write(record(true), 0.1);
    const [deny, allow] = await written();
    expect(deny.headers).toMatchObject({
      authorization: "[redacted]",
      "x-tenant-key": "[redacted]",
      "x-request-id": "r",
    });
    expect(allow).not.toHaveProperty("headers");
    const withAllow = log({ allowHeaders: true });
    withAllow.d.write(record(true), 0.1);
    const [line] = await withAllow.written();
    expect(line.headers).toMatchObject({ authorization: "[redacted]", "x-tenant-key": "k" });
  });

  it("hand every written line to the shipper", async () => {
    const shipped: string[] = [];
    const { d } = log({}, { ship: (line) => shipped.push(line) });
    d.write(record(false), 0.1);
    expect(JSON.parse(shipped[0]!)).toMatchObject({ event: "decision", decision: "deny", decision_id: "d1" });
  });
});

describe("decision line time", () => {
  it("is the ISO time of the moment the line was written, to the millisecond", async () => {
    const { d, written } = log();
    const before = Date.now();
    for (let i = 0; i < 50; i++) d.write(record(true), 0.1);
    await new Promise((r) => setTimeout(r, 5));
    d.write(record(true), 0.1);
    const after = Date.now();
    for (const line of await written()) {
      const t = Date.parse(line.time);
      expect(new Date(t).toISOString()).toBe(line.time);
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
  });
});

describe("decision lines formatted after the response", () => {
  it("keep their order and the time of the decision, not the time they were formatted", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const d = new DecisionLog(createLogger("info", sink), { mode: "all", sampleRate: 1, afterResponse: true });
    const decidedAt = Date.now();
    d.write({ ...record(true), decisionId: "first" }, 0.1);
    d.write({ ...record(false), decisionId: "second" }, 0.1);
    await new Promise((r) => setImmediate(r));
    d.flush();
    await new Promise((r) => setImmediate(r));
    const written = lines.map((l) => JSON.parse(l));
    expect(written.map((l) => l.decision_id)).toEqual(["first", "second"]);
    expect(Date.parse(written[0].time)).toBeGreaterThanOrEqual(decidedAt - 1);
    expect(Date.parse(written[0].time)).toBeLessThanOrEqual(Date.now());
  });

  it("are not formatted before the second turn, and flush writes what is waiting", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const d = new DecisionLog(createLogger("info", sink), { mode: "all", sampleRate: 1, afterResponse: true });
    d.write(record(true), 0.1);
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]); // the stream sink takes lines at once: nothing formatted yet
    await new Promise((r) => setImmediate(r));
    expect(lines.join("")).toContain('"decision_id":"d1"');
    d.write({ ...record(true), decisionId: "late" }, 0.1);
    d.flush();
    expect(lines.join("")).toContain('"decision_id":"late"');
  });
});

describe("the caller's span from the request headers", () => {
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  for (const afterResponse of [false, true]) {
    it(`is read when the line is written${afterResponse ? " after the response" : ""}; a recorded span wins`, async () => {
      const { d, written } = log({ afterResponse });
      d.write({ ...record(true), decisionId: "caller" }, 0.1, null, { traceparent });
      d.write({ ...record(true), decisionId: "ours" }, 0.1, { traceId: "a".repeat(32), spanId: "b".repeat(16) }, null);
      d.write({ ...record(true), decisionId: "none" }, 0.1, null, { "x-request-id": "r" });
      const byId = Object.fromEntries((await written()).map((l) => [l.decision_id, l]));
      expect(byId.caller).toMatchObject({ trace_id: "0af7651916cd43dd8448eb211c80319c", span_id: "b7ad6b7169203331" });
      expect(byId.ours).toMatchObject({ trace_id: "a".repeat(32), span_id: "b".repeat(16) });
      expect(byId.none).not.toHaveProperty("trace_id");
    });
  }
});
