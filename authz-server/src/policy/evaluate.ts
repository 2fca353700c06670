/**
 * The policy engine: Istio AuthorizationPolicy semantics over a compiled PolicySet.
 *   1. any matching DENY policy → deny;
 *   2. no ALLOW policy applies to the destination → allow;
 *   3. a matching ALLOW policy → allow;
 *   4. otherwise deny.
 * AUDIT policies never change the outcome; they are reported. Dry-run policies (`istio.io/dry-run`) are skipped when
 * enforcing and evaluated separately as the "shadow" decision. Pure and synchronous; with a Trace it records
 * everything for `explain`, without one it stops at the first answer.
 */

import { DEFAULT_DENY_POLICY, type Decision, decision, NO_ALLOW_POLICY } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import { redactHeaderValue } from "../model/sensitive-headers.js";
import { Attribute, isKnown, unknownReason } from "./attributes.js";
import type { Action, CompiledPolicy, CompiledRule, FieldCheck } from "./compiled.js";
import type { PolicySet } from "./policy-set.js";
import type { FieldTrace, PolicyTrace, RuleTrace, Trace } from "./trace.js";

const NO_ALLOW_DECISION = decision("allow", "allowed: no ALLOW policy applies to the destination", NO_ALLOW_POLICY);

export interface Evaluation {
  /** The enforced decision. */
  readonly decision: Decision;
  /** The decision with dry-run policies enforced too; null when no dry-run policy applies (and no global dry run). */
  readonly shadow: Decision | null;
  /** AUDIT policies with a matching rule. */
  readonly audit: readonly string[] | null;
}

export interface EvaluateOptions {
  /** Global dry run: nothing is enforced; the real decision is reported as the shadow. */
  readonly dryRun?: boolean;
  /** Filled with every policy, rule and field when given. */
  readonly trace?: Trace;
}

/**
 * The monotone rule. Istio's exact meaning everywhere, except that positive checks may use a trap-closing variant
 * where it can only add denials: `wide` (⊇ exact) in DENY rules, `narrow` (⊆ exact) in ALLOW rules. Negated checks
 * always use exact. A fact the request cannot tell fails in ALLOW rules and matches in DENY and AUDIT rules, whatever
 * the polarity (Istio's own treatment of HTTP-only fields on TCP). So trustgate never allows what Istio denies.
 */
function checkPasses(check: FieldCheck, model: RequestModel, action: Action): boolean {
  if (!isKnown(model, check.attribute, check.key)) return action !== "ALLOW";
  if (check.negate) return !check.exact.matches(model);
  if (action === "ALLOW") return (check.narrow ?? check.exact).matches(model);
  if (action === "DENY" && check.wide !== null) return check.exact.matches(model) || check.wide.matches(model);
  return check.exact.matches(model);
}

function traceField(check: FieldCheck, model: RequestModel, action: Action, passed: boolean): FieldTrace {
  const known = isKnown(model, check.attribute, check.key);
  const raw = known ? check.show(model) : "";
  let note = "";
  if (!known) {
    note = `${unknownReason(model, check.attribute)}: counts as ${action === "ALLOW" ? "not matched" : "matched"}`;
  } else if (!check.negate && action === "DENY" && check.wide !== null && !check.exact.matches(model) && passed) {
    note = "matched only by trustgate's wider DENY reading (an Istio trap: see Writing policies)";
  }
  return {
    field: check.field,
    written: check.written,
    negate: check.negate,
    value: check.attribute === Attribute.Header ? redactHeaderValue(check.key, raw) : raw,
    passed,
    note,
  };
}

function clausePasses(
  clause: readonly FieldCheck[],
  model: RequestModel,
  action: Action,
  out: FieldTrace[] | null,
): boolean {
  let all = true;
  for (const check of clause) {
    const passed = checkPasses(check, model, action);
    if (out !== null) out.push(traceField(check, model, action, passed));
    else if (!passed) return false;
    all &&= passed;
  }
  return all;
}

function anyClausePasses(
  clauses: readonly (readonly FieldCheck[])[] | null,
  model: RequestModel,
  action: Action,
  out: FieldTrace[] | null,
): boolean {
  if (clauses === null) return true;
  let any = false;
  for (const clause of clauses) {
    const passed = clausePasses(clause, model, action, out);
    if (passed && out === null) return true;
    any ||= passed;
  }
  return any;
}

/**
 * ALLOW rules istiod cannot generate, and so skips whole (pilot/pkg/security/authz/model/model.go, `checkError`):
 * one with an HTTP-only field, on a TCP request — even when the field sits in one `from` or `to` entry and another
 * entry would match — and one with a condition it cannot build a matcher from. DENY and AUDIT rules only lose the
 * field.
 */
export function skippedByIstiod(rule: CompiledRule, model: RequestModel, action: Action): boolean {
  return action === "ALLOW" && (rule.unbuildable.length > 0 || (rule.readsHttpOnly && model.http === null));
}

export function ruleMatches(
  rule: CompiledRule,
  model: RequestModel,
  action: Action,
  out: FieldTrace[] | null,
): boolean {
  if (out === null) {
    return (
      !skippedByIstiod(rule, model, action) &&
      anyClausePasses(rule.from, model, action, null) &&
      anyClausePasses(rule.to, model, action, null) &&
      clausePasses(rule.when, model, action, null)
    );
  }
  const from = anyClausePasses(rule.from, model, action, out);
  const to = anyClausePasses(rule.to, model, action, out);
  const when = clausePasses(rule.when, model, action, out);
  return from && to && when && !skippedByIstiod(rule, model, action);
}

/** Whether a policy's selector picks the destination: yes, no, or unknown (nothing told its labels). */
enum Selection {
  No,
  Yes,
  Unknown,
}

/**
 * Unknown counts as matched for DENY and AUDIT policies and, for ALLOW policies, as applying without the power to
 * allow: whatever the destination's labels really are, trustgate then never allows what Istio denies.
 */
function selection(policy: CompiledPolicy, model: RequestModel): Selection {
  if (policy.selector === null) return Selection.Yes;
  if (!model.destination.labelsKnown) return Selection.Unknown;
  const labels = model.destination.labels;
  for (const [key, value] of policy.selector) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return Selection.No;
  }
  return Selection.Yes;
}

const UNKNOWN_LABELS =
  "nothing told the destination's labels (no workload inventory entry, no pod from the pod watch, no labels or trustgate.label.* hints from the sidecar)";

function scopeNote(policy: CompiledPolicy, set: PolicySet, model: RequestModel): string {
  const ns = model.destination.namespace;
  if (policy.namespace !== set.rootNamespace && policy.namespace !== ns) {
    return `namespace ${policy.namespace} is neither the destination's (${ns}) nor the root namespace (${set.rootNamespace})`;
  }
  const selected = selection(policy, model);
  if (selected === Selection.Unknown) {
    const wanted = policy.selector!.map(([k, v]) => `${k}=${v}`).join(",");
    return `selector ${wanted}: ${UNKNOWN_LABELS}, so it counts as applying${policy.action === "ALLOW" ? " but cannot allow" : ""}`;
  }
  if (selected === Selection.No) {
    const wanted = policy.selector!.map(([k, v]) => `${k}=${v}`).join(",");
    const have =
      Object.entries(model.destination.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "none";
    return `selector ${wanted} does not match the destination's labels (${have})`;
  }
  return policy.namespace === set.rootNamespace ? "mesh-wide (root namespace)" : `namespace ${ns}`;
}

const SKIPPED_ON_TCP =
  "an ALLOW rule with an HTTP-only field never matches a TCP request, whichever entry holds the field (as istiod skips it)";

/** Why istiod would skip the rule ("" when it would not). */
function skipNote(rule: CompiledRule, model: RequestModel, action: Action): string {
  if (!skippedByIstiod(rule, model, action)) return "";
  return rule.unbuildable.length > 0
    ? `an ALLOW rule istiod cannot build never matches: ${rule.unbuildable.join("; ")}`
    : SKIPPED_ON_TCP;
}

/** Index of the first matching rule, or -1. With a trace, every rule is evaluated and recorded. */
function firstMatchingRule(policy: CompiledPolicy, model: RequestModel, trace: PolicyTrace | null): number {
  let first = -1;
  for (const rule of policy.rules) {
    const fields: FieldTrace[] | null = trace === null ? null : [];
    const matched = ruleMatches(rule, model, policy.action, fields);
    if (trace !== null) {
      const note = skipNote(rule, model, policy.action);
      trace.rules.push({ index: rule.index, line: rule.line, matched, fields: fields!, note } satisfies RuleTrace);
    }
    if (matched && first === -1) {
      first = rule.index;
      if (trace === null) return first;
    }
  }
  return first;
}

interface PassResult {
  decision: Decision;
  audit: string[] | null;
  /** A dry-run policy applied but was skipped: the shadow decision may differ. */
  skippedDryRun: boolean;
}

/**
 * The risk behind a decision, for its reason: the caller's or destination's level and alert, or the feed, when the
 * rule read them. `only`: the fields that decided (a default deny names the risk only when a risk field failed).
 */
function describeRisk(rule: CompiledRule, model: RequestModel, only?: ReadonlySet<string>): string {
  if (!rule.readsRisk) return "";
  const notes: string[] = [];
  const attributes = new Set<Attribute>();
  for (const clause of [...(rule.from ?? []), ...(rule.to ?? []), rule.when])
    for (const c of clause) if (only === undefined || only.has(c.field)) attributes.add(c.attribute);
  if (attributes.has(Attribute.SourceRiskLevel) || attributes.has(Attribute.SourceAlert)) {
    const r = model.sourceRiskAssessment();
    notes.push(`caller risk ${r.level}, highest alert ${r.highestAlert}${r.explanation ? ` (${r.explanation})` : ""}`);
  }
  if (attributes.has(Attribute.DestinationRiskLevel) || attributes.has(Attribute.DestinationAlert)) {
    const r = model.destinationRiskAssessment();
    notes.push(
      `destination risk ${r.level}, highest alert ${r.highestAlert}${r.explanation ? ` (${r.explanation})` : ""}`,
    );
  }
  if (attributes.has(Attribute.FalcoFeed)) notes.push(`Falco feed ${model.feed()}`);
  return notes.join("; ");
}

/** A request value quoted in a reason: the first 128 characters are enough to recognise it. */
function quoted(value: string): string {
  return value.length <= 128 ? value : `${value.slice(0, 128)}…`;
}

/** How specifically a policy targets the destination: its own selector beats its namespace, which beats mesh-wide. */
function specificity(policy: CompiledPolicy, rootNamespace: string): number {
  return (policy.namespace === rootNamespace ? 0 : 2) + (policy.selector === null ? 0 : 1);
}

/**
 * Explains a default deny: the ALLOW rule that came closest — among the most specific policies for the destination
 * (the workload's own policy says more than a mesh-wide one), the rule with the fewest failed fields.
 */
function closestMiss(allow: readonly CompiledPolicy[], model: RequestModel, rootNamespace: string): string {
  let best: { policy: CompiledPolicy; rule: CompiledRule; failed: FieldTrace[]; rank: number } | null = null;
  for (const policy of allow) {
    const rank = specificity(policy, rootNamespace);
    for (const rule of policy.rules) {
      const fields: FieldTrace[] = [];
      ruleMatches(rule, model, policy.action, fields);
      const failed = fields.filter((f) => !f.passed);
      if (best === null || rank > best.rank || (rank === best.rank && failed.length < best.failed.length)) {
        best = { policy, rule, failed, rank };
      }
    }
  }
  if (best === null) return "the applicable ALLOW policies have no rules";
  if (best.failed.length === 0)
    return `closest: ${best.policy.id} rule ${best.rule.index}: ${skipNote(best.rule, model, "ALLOW")}`;
  const fields = [
    ...new Set(best.failed.map((f) => `${f.field}${f.value === "" ? " (no value)" : ` ("${quoted(f.value)}")`}`)),
  ];
  const risk = describeRisk(best.rule, model, new Set(best.failed.map((f) => f.field)));
  return `closest: ${best.policy.id} rule ${best.rule.index} failed on ${fields.join(", ")}${risk ? `; ${risk}` : ""}`;
}

function decide(set: PolicySet, model: RequestModel, includeDryRun: boolean, trace: Trace | undefined): PassResult {
  const groups = [set.root, set.namespaceGroup(model.destination.namespace)];
  const tracing = trace !== undefined;
  const traceOf = (p: CompiledPolicy): PolicyTrace | null => {
    if (!tracing) return null;
    const t: PolicyTrace = {
      id: p.id,
      action: p.action,
      dryRun: p.dryRun,
      file: p.file,
      line: p.line,
      inScope: true,
      scopeNote: scopeNote(p, set, model),
      rules: [],
    };
    trace.policies.push(t);
    return t;
  };
  let skippedDryRun = false;
  let denied: Decision | null = null;

  for (const g of groups) {
    for (const p of g.deny) {
      if (selection(p, model) === Selection.No) continue;
      if (p.dryRun && !includeDryRun) {
        skippedDryRun = true;
        if (!tracing) continue;
      }
      const rule = firstMatchingRule(p, model, traceOf(p));
      if (rule === -1 || denied !== null || (p.dryRun && !includeDryRun)) continue;
      const compiled = p.rules[rule]!;
      const anonymous = model.source.principal === "" && compiled.needsIdentity;
      const risk = describeRisk(compiled, model);
      denied = decision(
        anonymous ? "unauthenticated" : "deny",
        `denied by DENY policy ${p.id} rule ${rule}${anonymous ? " (the caller has no identity)" : ""}${risk ? `: ${risk}` : ""}`,
        p.id,
        rule,
      );
      if (!tracing) break;
    }
    if (denied !== null && !tracing) break;
  }

  let allowed: Decision | null = null;
  const applicable: CompiledPolicy[] = [];
  /** ALLOW policies that apply as far as anyone can tell, and cannot allow: their selector meets unknown labels. */
  let unknownAllow: string[] | null = null;
  if (denied === null || tracing) {
    for (const g of groups) {
      for (const p of g.allow) {
        const selected = selection(p, model);
        if (selected === Selection.No) continue;
        if (p.dryRun && !includeDryRun) {
          skippedDryRun = true;
          if (!tracing) continue;
        }
        if (selected === Selection.Unknown) {
          traceOf(p);
          if (p.dryRun && !includeDryRun) continue;
          applicable.push(p);
          if (unknownAllow === null) unknownAllow = [];
          unknownAllow.push(p.id);
          continue;
        }
        const rule = firstMatchingRule(p, model, traceOf(p));
        if (p.dryRun && !includeDryRun) continue;
        applicable.push(p);
        if (rule !== -1 && allowed === null) {
          allowed = p.rules[rule]!.allowDecision!;
          if (!tracing) break;
        }
      }
      if (allowed !== null && !tracing) break;
    }
  }

  let audit: string[] | null = null;
  for (const g of groups) {
    for (const p of g.audit) {
      if (selection(p, model) === Selection.No) continue;
      if (p.dryRun && !includeDryRun) {
        skippedDryRun = true;
        if (!tracing) continue;
      }
      if (firstMatchingRule(p, model, traceOf(p)) === -1 || (p.dryRun && !includeDryRun)) continue;
      if (audit === null) audit = [];
      audit.push(p.id);
    }
  }

  if (tracing) {
    for (const p of set.policies) {
      const applies =
        (p.namespace === set.rootNamespace || p.namespace === model.destination.namespace) &&
        selection(p, model) !== Selection.No;
      if (!applies) {
        trace.policies.push({
          id: p.id,
          action: p.action,
          dryRun: p.dryRun,
          file: p.file,
          line: p.line,
          inScope: false,
          scopeNote: scopeNote(p, set, model),
          rules: [],
        });
      }
    }
  }

  let result: Decision;
  if (denied !== null) result = denied;
  else if (applicable.length === 0) {
    result = NO_ALLOW_DECISION;
  } else if (allowed !== null) result = allowed;
  else {
    const anonymous = model.source.principal === "" && applicable.some((p) => p.rules.some((r) => r.needsIdentity));
    const known = unknownAllow === null ? applicable : applicable.filter((p) => !unknownAllow!.includes(p.id));
    const unknownNote =
      unknownAllow === null
        ? ""
        : `; ${unknownAllow.join(", ")} cannot allow: ${UNKNOWN_LABELS}, so ${unknownAllow.length === 1 ? "its selector" : "their selectors"} cannot be checked`;
    result = decision(
      anonymous ? "unauthenticated" : "deny",
      `no ALLOW rule matched${anonymous ? " (the caller has no identity)" : ""}${known.length > 0 ? `; ${closestMiss(known, model, set.rootNamespace)}` : ""}${unknownNote}`,
      DEFAULT_DENY_POLICY,
    );
  }
  return { decision: result, audit, skippedDryRun };
}

export function evaluate(set: PolicySet, model: RequestModel, options: EvaluateOptions = {}): Evaluation {
  const enforced = decide(set, model, false, options.trace);
  if (options.dryRun) {
    const shadow = enforced.skippedDryRun ? decide(set, model, true, undefined).decision : enforced.decision;
    return {
      decision: decision("allow", `dry-run mode, not enforced: ${shadow.reason}`, shadow.policy, shadow.rule),
      shadow,
      audit: enforced.audit,
    };
  }
  const shadow = enforced.skippedDryRun ? decide(set, model, true, undefined).decision : null;
  return { decision: enforced.decision, shadow, audit: enforced.audit };
}
