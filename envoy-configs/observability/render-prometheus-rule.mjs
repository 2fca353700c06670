#!/usr/bin/env node
// Renders the Prometheus Operator copy of trustgate's alert rules from the plain rule file, so the rules have one
// source of truth:
//   prometheus/trustgate-rules.yaml  ->  ../istio/monitoring/prometheusrule.yaml
// `node envoy-configs/observability/render-prometheus-rule.mjs` writes it; `--check` exits 1 when the committed
// copy is stale. The test suite runs the same comparison.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
export const rulesFile = join(here, "prometheus", "trustgate-rules.yaml");
export const prometheusRuleFile = join(here, "..", "istio", "monitoring", "prometheusrule.yaml");

const HEADER = `# Generated from envoy-configs/observability/prometheus/trustgate-rules.yaml by
# \`node envoy-configs/observability/render-prometheus-rule.mjs\`: edit that file, not this one.
# Needs the Prometheus Operator; its Prometheus must select this object (ruleSelector / ruleNamespaceSelector,
# e.g. kube-prometheus-stack's default ruleSelector wants the label release: <its release name>).
`;

/** The PrometheusRule object carrying exactly the groups of the plain rule file. */
export function prometheusRule(rulesText = readFileSync(rulesFile, "utf8")) {
  const { groups } = YAML.parse(rulesText);
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "trustgate",
      namespace: "trustgate-system",
      labels: { "app.kubernetes.io/name": "trustgate" },
    },
    spec: { groups },
  };
}

export function renderPrometheusRule(rulesText) {
  return HEADER + YAML.stringify(prometheusRule(rulesText), { lineWidth: 0 });
}

/** True when the committed PrometheusRule is what the rule file renders now. */
export function prometheusRuleIsCurrent() {
  return readFileSync(prometheusRuleFile, "utf8") === renderPrometheusRule();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--check")) {
    if (!prometheusRuleIsCurrent()) {
      console.error(`${prometheusRuleFile} is stale: run node envoy-configs/observability/render-prometheus-rule.mjs`);
      process.exit(1);
    }
  } else {
    writeFileSync(prometheusRuleFile, renderPrometheusRule());
    console.log(`wrote ${prometheusRuleFile}`);
  }
}
