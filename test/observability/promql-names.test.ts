import { describe, expect, it } from "vitest";
import { metricNames } from "./promql-names.js";

describe("metricNames", () => {
  it("finds selectors and skips functions, aggregations, keywords and durations", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, instance) (rate(trustgate_check_duration_seconds_bucket{job="trustgate"}[5m])))',
      ),
    ).toEqual(["trustgate_check_duration_seconds_bucket"]);
    expect(metricNames("increase(a_total[5m] offset 1h) > 0 or b unless on (job, instance) c == bool 1")).toEqual([
      "a_total",
      "b",
      "c",
    ]);
  });

  it("does not take label names, label values or grouping lists for metrics", () => {
    expect(
      metricNames(
        'sum without (outcome, policy) (x{policy="trustgate/internal-error", outcome!~"allow|deny"}) * on (job) group_left (version) y',
      ),
    ).toEqual(["x", "y"]);
    expect(metricNames('max by (namespace, job) (z{level="critical"}) > 0')).toEqual(["z"]);
  });

  it("reads __name__ matchers, subqueries, comments and strings with escapes", () => {
    expect(metricNames('{__name__="trustgate_dry_run", job="a\\"b"}')).toEqual(["trustgate_dry_run"]);
    expect(metricNames("max_over_time(rate(q[1m])[10m:30s]) # not_a_metric here\n + 1")).toEqual(["q"]);
    expect(metricNames("absent(up{job='trustgate'}) and vector(1)")).toEqual(["up"]);
  });

  it("rejects an unterminated string", () => {
    expect(() => metricNames('x{a="b}')).toThrow(/unterminated string/);
  });
});
