// Types for render-prometheus-rule.mjs (plain JavaScript so rendering needs no TypeScript step).
export declare const rulesFile: string;
export declare const prometheusRuleFile: string;
export declare function prometheusRule(rulesText?: string): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { groups: unknown[] };
};
export declare function renderPrometheusRule(rulesText?: string): string;
export declare function prometheusRuleIsCurrent(): boolean;
