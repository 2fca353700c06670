import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { FixedHistogram } from "./fixed-histogram.js";

const BUCKETS = [0.001, 0.01, 0.1];

describe("FixedHistogram", () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fixed = new FixedHistogram("x_seconds", "help text", BUCKETS, [ours]);
    const reference = new Histogram({ name: "x_seconds", help: "help text", buckets: BUCKETS, registers: [theirs] });
    for (const v of [0.0005, 0.001, 0.002, 0.05, 0.5, 3]) {
      fixed.observe(v);
      reference.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("adds up across processes like any histogram", async () => {
    const a = new Registry();
    const b = new Registry();
    new FixedHistogram("x_seconds", "h", BUCKETS, [a]).observe(0.005);
    new FixedHistogram("x_seconds", "h", BUCKETS, [b]).observe(0.05);
    const text = await AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]).metrics();
    expect(text).toContain('x_seconds_bucket{le="0.01"} 1');
    expect(text).toContain('x_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain("x_seconds_count 2");
  });
});
