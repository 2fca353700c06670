// The Grafana dashboard's structure: importable JSON for Grafana 10.4/11 (schema version, datasource variable),
// every panel with a datasource, queries, a unique id and a place on the grid that no other panel overlaps, every
// variable a query uses defined, and every panel described in README.md. Whether the queries run and read real
// metrics is live-prometheus.test.ts's job.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../mesh/repo.js";
import { metricNames } from "./promql-names.js";

interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}
interface Datasource {
  type?: string;
  uid?: string;
}
interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: Datasource;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  gridPos?: GridPos;
  datasource?: Datasource;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: unknown;
  datasource?: Datasource;
}

const dashboard = JSON.parse(
  readFileSync(join(REPO, "envoy-configs", "observability", "grafana", "trustgate.json"), "utf8"),
) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
};
const panels = dashboard.panels;
const dataPanels = panels.filter((p) => p.type !== "row");
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, meant literally
const PROMETHEUS = { type: "prometheus", uid: "${datasource}" };
const GRAFANA_MACROS = ["$__rate_interval", "$__interval", "$__range"];

describe("Grafana dashboard", () => {
  it("is importable: a current schema version, a uid, a Prometheus datasource variable", () => {
    // 39 is Grafana 10.4 and 11.0; 11.x migrates it up on load.
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toBe("trustgate");
    expect(dashboard.title).toBe("trustgate");
    const ds = dashboard.templating.list.find((v) => v.name === "datasource");
    expect(ds).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"(?!\$\{datasource\}|trustgate"|-- Grafana --)/);
  });

  it("gives every panel a unique id, a type and a title", () => {
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id! > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(["row", "timeseries", "stat"], p.title).toContain(p.type);
      expect(p.title?.trim(), `panel ${p.id}`).toBeTruthy();
      if (p.type === "row") expect(p.panels ?? [], `row ${p.title} must not hide panels`).toEqual([]);
    }
    expect(new Set(dataPanels.map((p) => p.title)).size).toBe(dataPanels.length);
    expect(dataPanels.length).toBeGreaterThanOrEqual(20);
  });

  it("places every panel on the 24-column grid without overlaps", () => {
    for (const p of panels) {
      const g = p.gridPos!;
      expect(g, p.title).toBeDefined();
      for (const k of ["h", "w", "x", "y"] as const) expect(Number.isInteger(g[k]), `${p.title}.${k}`).toBe(true);
      expect(g.w, p.title).toBeGreaterThan(0);
      expect(g.h, p.title).toBeGreaterThan(0);
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
    }
    for (let i = 0; i < panels.length; i++) {
      for (let j = i + 1; j < panels.length; j++) {
        const a = panels[i]!.gridPos!;
        const b = panels[j]!.gridPos!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${panels[i]!.title} overlaps ${panels[j]!.title}`).toBe(false);
      }
    }
  });

  it("gives every panel the Prometheus datasource variable and at least one query", () => {
    for (const p of dataPanels) {
      expect(p.datasource, p.title).toEqual(PROMETHEUS);
      expect(p.description?.length, `${p.title} needs a description`).toBeGreaterThan(20);
      const targets = p.targets ?? [];
      expect(targets.length, p.title).toBeGreaterThan(0);
      expect(new Set(targets.map((t) => t.refId)).size, `${p.title}: duplicate refId`).toBe(targets.length);
      for (const t of targets) {
        expect(t.datasource, `${p.title} ${t.refId}`).toEqual(PROMETHEUS);
        expect(t.expr?.trim(), `${p.title} ${t.refId}`).toBeTruthy();
        expect(t.legendFormat?.trim(), `${p.title} ${t.refId}`).toBeTruthy();
      }
    }
  });

  it("uses only defined variables, and filters every trustgate metric by job and replica", () => {
    const defined = new Set(dashboard.templating.list.map((v) => `$${v.name}`));
    for (const v of dashboard.templating.list.filter((x) => x.type === "query")) {
      expect(v.datasource, v.name).toEqual(PROMETHEUS);
    }
    for (const p of dataPanels) {
      for (const t of p.targets ?? []) {
        let rest = t.expr!;
        for (const m of GRAFANA_MACROS) rest = rest.replaceAll(m, "");
        for (const used of rest.match(/\$\{?\w+\}?/g) ?? []) {
          expect(defined.has(used.replace(/[{}]/g, "")), `${p.title}: ${used} is not a dashboard variable`).toBe(true);
        }
        // every selector of a trustgate metric carries the job and replica filters
        for (const name of metricNames(t.expr!).filter((n) => n.startsWith("trustgate_"))) {
          for (const m of t.expr!.matchAll(new RegExp(`${name}\\{([^}]*)\\}`, "g"))) {
            expect(m[1], `${p.title}: ${name}`).toContain('job=~"$job"');
            expect(m[1], `${p.title}: ${name}`).toContain('instance=~"$instance"');
          }
          expect(t.expr!, `${p.title}: ${name} without a selector`).toMatch(new RegExp(`${name}\\{`));
        }
      }
    }
  });

  it("shows what the observability section promises: decisions, latency, risk, feed, reloads, ingest, Redis, process", () => {
    const exprs = dataPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr!)).join("\n");
    for (const q of ["0.5", "0.9", "0.99"]) {
      expect(exprs).toContain(`histogram_quantile(${q}, sum by (le) (rate(trustgate_check_duration_seconds_bucket`);
    }
    for (const needle of [
      "sum by (outcome) (rate(trustgate_decisions_total",
      "sum by (policy) (rate(trustgate_decisions_total",
      "trustgate_risk_identities",
      "trustgate_falco_feed_fresh",
      "trustgate_falco_feed_age_seconds",
      "trustgate_policy_reloads_total",
      "trustgate_policy_reload_errors_total",
      "trustgate_policy_set_info",
      "trustgate_falco_alerts_total",
      "trustgate_falco_ingest_rejections_total",
      "trustgate_risk_redis_connected",
      "trustgate_risk_shared_events_total",
      "trustgate_process_cpu_seconds_total",
      "trustgate_process_resident_memory_bytes",
      "trustgate_nodejs_heap_size_used_bytes",
      "trustgate_nodejs_eventloop_lag_p99_seconds",
    ]) {
      expect(exprs).toContain(needle);
    }
  });

  it("describes every panel in README.md", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const start = readme.indexOf("### Dashboard");
    expect(start, "README.md has no Dashboard section").toBeGreaterThan(0);
    // The section, to the next second-level heading, with line breaks folded as Markdown renders them.
    const end = readme.indexOf("\n## ", start);
    const section = readme.slice(start, end === -1 ? undefined : end).replace(/\s+/g, " ");
    for (const p of dataPanels)
      expect(section, `README.md does not describe panel "${p.title}"`).toContain(`**${p.title}**`);
  });
});
