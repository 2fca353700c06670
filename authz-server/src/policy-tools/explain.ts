/**
 * Explains a decision: runs a described request through the live decision code with a trace, and renders every
 * policy (applies or not, and why), every rule and every field (value, result), then the final decision.
 */

import type { Authorization } from "../engine/authorization.js";
import { decideCheck } from "../engine/decide-check.js";
import { buildCheckRequest } from "../extauthz/build-check-request.js";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import type { RevocationLookup } from "../identity/caller-identity.js";
import { CertificateCache } from "../identity/certificate-cache.js";
import { quietRiskView, type RiskView } from "../model/risk-view.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { FieldTrace, Trace } from "../policy/trace.js";
import { DescribedRiskView } from "./described-risk-view.js";
import type { RequestDescription } from "./request-description.js";

export interface ExplainOptions {
  /** Live risk to fall back on for what the description does not state. */
  readonly risk?: RiskView;
  readonly trustDomains?: readonly string[];
  /** Operator revocations in force (the server's explain: a revoked caller is refused as in a live Check). */
  readonly revocations?: RevocationLookup;
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  /** What the proxy forwards; offline tools default to the server's defaults (JWT metadata not forwarded). */
  readonly request?: RequestSettings;
  readonly dryRun?: boolean;
  readonly nowMs?: number;
}

export interface Explanation {
  readonly outcome: Authorization;
  readonly trace: Trace;
  readonly policyVersion: string;
}

const certificates = new CertificateCache(1000);

export function explain(description: RequestDescription, set: PolicySet, options: ExplainOptions = {}): Explanation {
  const trace: Trace = { policies: [] };
  const outcome = decideCheck(
    buildCheckRequest(description),
    set,
    {
      // The description states certificate facts the way trustgate's own wasm filter reports them.
      identity: {
        trustDomains: new Set(options.trustDomains ?? []),
        trustFilterHeaders: true,
        revocations: options.revocations,
      },
      certificates,
      risk: new DescribedRiskView(description, options.risk ?? quietRiskView),
      labelsOf: options.labelsOf,
      request: options.request,
    },
    { dryRun: options.dryRun ?? false, nowMs: options.nowMs ?? Date.now(), trace },
  );
  return { outcome, trace, policyVersion: set.version };
}

function quote(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

/**
 * `✓`/`✗` says whether the check passed; the words state the fact: the value is `in` the written list or `not in`
 * it. A `notValues` condition says so, since its field name does not (`not*` fields carry it in their name).
 */
function fieldLine(f: FieldTrace): string {
  const mark = f.passed ? "✓" : "✗";
  const list = `[${quote(f.written)}]`;
  if (f.note) return `${mark} ${f.field} ${list}: ${f.note}`;
  const inList = f.passed !== f.negate;
  const field = f.negate && f.field.startsWith("when[") ? `${f.field} (notValues)` : f.field;
  const value = f.value === "" ? "(none)" : JSON.stringify(f.value);
  return `${mark} ${field}: ${value} ${inList ? "in" : "not in"} ${list}`;
}

/** Plain-text rendering for the terminal. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const { outcome, trace } = e;
  lines.push(`policy set ${e.policyVersion}`);
  if (outcome.rejection) {
    lines.push(`refused before policy evaluation (${outcome.rejection.kind}): ${outcome.rejection.reason}`);
  }
  const inScope = trace.policies.filter((p) => p.inScope);
  const outOfScope = trace.policies.filter((p) => !p.inScope);
  if (!outcome.rejection) {
    lines.push(`policies that apply (${inScope.length}):`);
    for (const p of inScope) {
      const matched = p.rules.filter((r) => r.matched).map((r) => r.index);
      const verdict = matched.length > 0 ? `matches (rule ${matched.join(", ")})` : "no rule matches";
      lines.push(
        `  ${p.action} ${p.id}${p.dryRun ? " [dry-run]" : ""} — ${verdict}   (${p.file}:${p.line}; ${p.scopeNote})`,
      );
      if (p.rules.length === 0) lines.push("    (no rules: an ALLOW policy without rules allows nothing)");
      for (const r of p.rules) {
        lines.push(
          `    rule ${r.index} (line ${r.line}): ${r.matched ? "MATCH" : "no match"}${r.note ? ` (${r.note})` : ""}`,
        );
        if (r.fields.length === 0) lines.push("      (empty rule: matches every request)");
        for (const f of r.fields) lines.push(`      ${fieldLine(f)}`);
      }
    }
    if (outOfScope.length > 0) {
      lines.push(`policies that do not apply (${outOfScope.length}):`);
      for (const p of outOfScope) lines.push(`  ${p.action} ${p.id} — ${p.scopeNote}`);
    }
  }
  const d = outcome.decision;
  lines.push(
    `decision: ${d.allowed ? "ALLOW" : d.outcome === "unauthenticated" ? "DENY (unauthenticated, 401)" : "DENY (403)"} by ${d.policy}${d.rule >= 0 ? ` rule ${d.rule}` : ""}`,
  );
  lines.push(`reason: ${d.reason}`);
  const shadow = outcome.evaluation?.shadow;
  if (shadow) lines.push(`dry-run policies would ${shadow.allowed ? "allow" : "deny"}: ${shadow.reason}`);
  if (outcome.evaluation?.audit) lines.push(`audited by: ${outcome.evaluation.audit.join(", ")}`);
  return lines.join("\n");
}

/** JSON rendering for `POST /v1/explain` and `--json`. */
export function explanationJson(e: Explanation): Record<string, unknown> {
  const { outcome } = e;
  return {
    decision: outcome.decision.allowed ? "allow" : "deny",
    outcome: outcome.decision.outcome,
    policy: outcome.decision.policy,
    rule: outcome.decision.rule,
    reason: outcome.decision.reason,
    policyVersion: e.policyVersion,
    rejection: outcome.rejection,
    shadow: outcome.evaluation?.shadow ?? null,
    audit: outcome.evaluation?.audit ?? null,
    policies: e.trace.policies,
  };
}
