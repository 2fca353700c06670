// trustgate's Prometheus alert rules: `promtool check rules` and `promtool test rules` (the real promtool), the
// conventions every alert follows (severity, summary, description, a runbook that exists in README.md), and the
// Prometheus Operator copy in the Istio install being exactly the same rules.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  prometheusRule,
  prometheusRuleFile,
  prometheusRuleIsCurrent,
  rulesFile,
} from "../../envoy-configs/observability/render-prometheus-rule.mjs";
import { REPO } from "../mesh/repo.js";
import { prometheusBinary } from "./prometheus-binaries.js";
import { headingAnchors } from "./readme-anchors.js";

const PROMETHEUS_DIR = join(REPO, "envoy-configs", "observability", "prometheus");
const TESTS_FILE = join(PROMETHEUS_DIR, "trustgate-rules.test.yaml");
const RUNBOOK_BASE = "https://github.com/trustgate/trustgate/blob/main/README.md#";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[];
}

const groups = (YAML.parse(readFileSync(rulesFile, "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> })
  .groups;
const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const run = spawnSync(prometheusBinary("promtool"), args, { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("Prometheus alert rules", () => {
  it("pass promtool check rules", () => {
    const { status, output } = promtool(["check", "rules", rulesFile], PROMETHEUS_DIR);
    expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(status, output).toBe(0);
  });

  it("pass their promtool unit tests", () => {
    const { status, output } = promtool(["test", "rules", TESTS_FILE], PROMETHEUS_DIR);
    console.log(output.trim());
    expect(output).toContain("SUCCESS");
    expect(status, output).toBe(0);
  });

  it("fail their unit tests when a threshold changes (the tests can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-rules-"));
    try {
      copyFileSync(TESTS_FILE, join(dir, "trustgate-rules.test.yaml"));
      const text = readFileSync(rulesFile, "utf8");
      expect(text).toContain("> 0.005");
      writeFileSync(join(dir, "trustgate-rules.yaml"), text.replace("> 0.005", "> 0.0051"));
      const { status, output } = promtool(["test", "rules", "trustgate-rules.test.yaml"], dir);
      expect(status).not.toBe(0);
      expect(output).toMatch(/FAILED[\s\S]*TrustgateCheckLatencyOverBudget/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("have unit tests where each alert fires and where it stays silent", () => {
    const tests = (YAML.parse(readFileSync(TESTS_FILE, "utf8")) as { tests: Array<{ alert_rule_test?: AlertTest[] }> })
      .tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} has no test where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} has no test where it is silent`,
      ).toBe(true);
    }
    for (const c of cases) expect(alerts.map((a) => a.alert)).toContain(c.alertname);
  });

  it("every alert has a severity, a summary, a description and a runbook section in README.md", () => {
    const anchors = headingAnchors(readFileSync(join(REPO, "README.md"), "utf8"));
    const names = new Set<string>();
    for (const a of alerts) {
      expect(names.has(a.alert!), `${a.alert} is defined twice`).toBe(false);
      names.add(a.alert!);
      expect(a.alert).toMatch(/^Trustgate[A-Z][A-Za-z]+$/);
      expect(Object.keys(a.labels ?? {}), a.alert).toEqual(["severity"]);
      expect(["critical", "warning"], a.alert).toContain(a.labels?.severity);
      expect(Object.keys(a.annotations ?? {}).sort(), a.alert).toEqual(["description", "runbook_url", "summary"]);
      expect(a.annotations?.summary?.length, a.alert).toBeGreaterThan(10);
      expect(a.annotations?.description?.length, a.alert).toBeGreaterThan(40);
      const url = a.annotations?.runbook_url ?? "";
      expect(url, a.alert).toBe(`${RUNBOOK_BASE}${a.alert!.toLowerCase()}`);
      expect(anchors.has(url.slice(RUNBOOK_BASE.length)), `README.md has no heading for ${url}`).toBe(true);
    }
  });

  it("the Istio install's PrometheusRule is generated from the rule file and carries the same rules", () => {
    expect(prometheusRuleIsCurrent(), "run node envoy-configs/observability/render-prometheus-rule.mjs").toBe(true);
    const committed = YAML.parse(readFileSync(prometheusRuleFile, "utf8"));
    expect(committed).toEqual(prometheusRule());
    expect(committed.kind).toBe("PrometheusRule");
    expect(committed.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(committed.spec.groups).toEqual(groups);
    const kustomization = YAML.parse(
      readFileSync(join(REPO, "envoy-configs", "istio", "monitoring", "kustomization.yaml"), "utf8"),
    );
    expect(kustomization.resources).toContain("prometheusrule.yaml");
  });
});

describe("headingAnchors", () => {
  it("slugs headings like GitHub, numbers repeats and skips fenced code", () => {
    const md = "# A b\n## Alerts: `x` (y)\n```\n# not a heading\n```\n### A b\n#### TrustgateReplicaDown\n";
    expect([...headingAnchors(md)]).toEqual(["a-b", "alerts-x-y", "a-b-1", "trustgatereplicadown"]);
  });
});
