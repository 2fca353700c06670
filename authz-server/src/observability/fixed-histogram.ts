/**
 * A Prometheus histogram with fixed buckets and no labels, for the one observation every Check makes (its
 * duration). prom-client's Histogram builds a label object, validates it and hashes it on every `observe`; this one
 * increments a bucket and a sum, and is read by the registry like any prom-client metric (`get()`), so /metrics and
 * the cluster aggregation see an ordinary histogram.
 */
import type { Registry } from "prom-client";

interface Value {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName: string;
}

export class FixedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    this.counts = new Float64Array(buckets.length);
    for (const registry of registers) registry.registerMetric(this as never);
  }

  observe(value: number): void {
    const { buckets, counts } = this;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        counts[i]! += 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }

  /** prom-client's metric interface (what Registry.metrics() and getMetricsAsJSON() read). */
  get(): { name: string; help: string; type: string; values: Value[]; aggregator: string } {
    const values: Value[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ value: cumulative, labels: { le: this.buckets[i]! }, metricName: `${this.name}_bucket` });
    }
    values.push({ value: this.count, labels: { le: "+Inf" }, metricName: `${this.name}_bucket` });
    values.push({ value: this.sum, labels: {}, metricName: `${this.name}_sum` });
    values.push({ value: this.count, labels: {}, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
