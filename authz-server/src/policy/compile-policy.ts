/**
 * Validates one AuthorizationPolicy document and compiles it into matchers. What istiod's validation accepts loads;
 * what it refuses is refused here too, with the file, line, policy, rule and field — a policy is never partly
 * applied. trustgate's own keys are validated more strictly, and a few things istiod accepts but that cannot work
 * under trustgate are refused with the reason (`targetRef(s)`, action CUSTOM).
 */
import { decision } from "../model/decision.js";
import { runAtOnce } from "../util/time-slices.js";
import type { FieldContext, SetFieldPool } from "./compile-field.js";
import { compileRule } from "./compile-rule.js";
import type { Action, CompiledPolicy, CompiledRule, PolicyLoadError } from "./compiled.js";
import { Compiler, describe, isPlainObject, own, type PolicyDocument } from "./compiler.js";
import { policyKind } from "./policy-kinds.js";
import { DEFAULT_BUNDLE, type TrustDomainBundle, trustDomainBundle } from "./trust-domain-bundle.js";

export type { PathSegment, PolicyDocument } from "./compiler.js";

export { ISTIO_API_VERSIONS as API_VERSIONS } from "./policy-kinds.js";
export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

/** Mesh facts that change what a policy value means (as the same facts change istiod's output). */
export interface CompileOptions {
  /** The mesh's trust domain (Istio `meshConfig.trustDomain`); default `cluster.local`. */
  readonly meshTrustDomain?: string;
  /** Istio `meshConfig.trustDomainAliases`. */
  readonly trustDomainAliases?: readonly string[];
}

/** One bundle per options object, so that every policy of a set compiles under the same one (see FieldPool). */
const bundles = new WeakMap<CompileOptions, TrustDomainBundle>();

export function bundleOf(options: CompileOptions): TrustDomainBundle {
  if (options.meshTrustDomain === undefined && (options.trustDomainAliases ?? []).length === 0) return DEFAULT_BUNDLE;
  let bundle = bundles.get(options);
  if (bundle === undefined) {
    bundle = trustDomainBundle(options.meshTrustDomain ?? "cluster.local", options.trustDomainAliases ?? []);
    bundles.set(options, bundle);
  }
  return bundle;
}

/** Go's strconv.ParseBool, which istiod uses for the dry-run annotation. */
const PARSE_BOOL = new Map<string, boolean>([
  ["1", true],
  ["t", true],
  ["T", true],
  ["TRUE", true],
  ["true", true],
  ["True", true],
  ["0", false],
  ["f", false],
  ["F", false],
  ["FALSE", false],
  ["false", false],
  ["False", false],
]);

function compileSelector(c: Compiler, value: unknown): Array<readonly [string, string]> | null {
  const sel = c.map(value, ["spec", "selector"], ["matchLabels"]);
  const labels = sel === null ? undefined : own(sel, "matchLabels");
  if (labels === undefined || labels === null) return null;
  const path = ["spec", "selector", "matchLabels"];
  if (!isPlainObject(labels)) {
    c.error(path, `expected a map of labels, got ${describe(labels)}`);
    return null;
  }
  const selector: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== "string") c.error([...path, k], `label values are strings, got ${describe(v)}`);
    else if (k === "") c.error(path, "an empty label key is not supported in a selector");
    else if (k.includes("*") || v.includes("*")) c.error([...path, k], "wildcards are not supported in a selector");
    else selector.push([k, v]);
  }
  return selector.length === 0 ? null : selector;
}

function compileDryRun(c: Compiler, metadata: Record<string, unknown> | null, action: Action | null): boolean {
  const annotations = metadata === null ? undefined : own(metadata, "annotations");
  if (!isPlainObject(annotations) || !Object.hasOwn(annotations, DRY_RUN_ANNOTATION)) return false;
  const path = ["metadata", "annotations", DRY_RUN_ANNOTATION];
  if (action === "AUDIT") {
    c.error(path, `${DRY_RUN_ANNOTATION} is only supported on ALLOW and DENY policies (istiod refuses it on AUDIT)`);
    return false;
  }
  const v = annotations[DRY_RUN_ANNOTATION];
  const parsed = typeof v === "boolean" ? v : typeof v === "string" ? PARSE_BOOL.get(v) : undefined;
  if (parsed === undefined) {
    c.error(
      path,
      `must be a boolean such as "true" or "false" (1, t, T, TRUE, True, 0, f, F, FALSE, False), got ${describe(v)}`,
    );
    return false;
  }
  return parsed;
}

export interface PolicyCompileResult {
  readonly policy: CompiledPolicy | null;
  readonly errors: PolicyLoadError[];
}

/** Compiles one YAML document. Returns the policy, or null with errors describing every problem found. */
export function compilePolicy(
  doc: PolicyDocument,
  options: CompileOptions = {},
  pool?: SetFieldPool,
): PolicyCompileResult {
  return runAtOnce(compilePolicySteps(doc, options, pool));
}

/**
 * compilePolicy one rule at a time: the generator pauses after each rule, so a caller that must stay responsive
 * (the server, reloading a large policy next to live Checks) can spread one big policy over several turns.
 */
export function* compilePolicySteps(
  doc: PolicyDocument,
  options: CompileOptions = {},
  pool?: SetFieldPool,
): Generator<void, PolicyCompileResult, void> {
  const c = new Compiler(doc);
  const root = doc.value;
  if (!isPlainObject(root)) {
    c.error([], `expected an AuthorizationPolicy document, got ${describe(root)}`);
    return { policy: null, errors: c.errors };
  }
  for (const key of Object.keys(root)) {
    if (!["apiVersion", "kind", "metadata", "spec", "status"].includes(key)) c.error([key], `unknown field "${key}"`);
  }
  const kind = policyKind(own(root, "apiVersion"), own(root, "kind"));
  if (!kind.ok) c.error([kind.field], kind.message);
  const rawMetadata = own(root, "metadata");
  const metadata = isPlainObject(rawMetadata) ? rawMetadata : null;
  if (metadata === null) c.error(["metadata"], "metadata with name and namespace is required");
  const name = metadata === null ? undefined : own(metadata, "name");
  const namespace = metadata === null ? undefined : own(metadata, "namespace");
  if (metadata !== null) {
    if (typeof name !== "string" || name === "") c.error(["metadata", "name"], "metadata.name is required");
    if (typeof namespace !== "string" || namespace === "") {
      c.error(["metadata", "namespace"], "metadata.namespace is required (trustgate scopes policies by it)");
    }
  }
  if (typeof name === "string" && typeof namespace === "string") c.policyId = `${namespace}/${name}`;

  const rawSpec = own(root, "spec");
  const spec =
    rawSpec === undefined || rawSpec === null
      ? {}
      : c.map(rawSpec, ["spec"], ["selector", "targetRef", "targetRefs", "action", "provider", "rules"]);
  if (spec === null) return { policy: null, errors: c.errors };

  for (const key of ["targetRef", "targetRefs"]) {
    if (Object.hasOwn(spec, key)) {
      c.error(
        ["spec", key],
        `${key} attaches a policy to a Gateway or Service, which trustgate does not model (on a sidecar Istio ignores such a policy); use selector`,
      );
    }
  }
  let action: Action | null = "ALLOW";
  const rawAction = own(spec, "action");
  if (rawAction !== undefined) {
    if (rawAction === "CUSTOM") {
      action = null;
      c.error(
        ["spec", "action"],
        "action CUSTOM is Istio's hook for calling an external authorizer such as trustgate; a trustgate policy uses ALLOW, DENY or AUDIT",
      );
    } else if (rawAction === "ALLOW" || rawAction === "DENY" || rawAction === "AUDIT") action = rawAction;
    else {
      action = null;
      c.error(["spec", "action"], `action must be ALLOW, DENY or AUDIT, got ${describe(rawAction)}`);
    }
  }
  if (own(spec, "provider") !== undefined && rawAction !== "CUSTOM") {
    c.error(["spec", "provider"], "provider is only meaningful with action CUSTOM (istiod refuses it otherwise)");
  }
  const dryRun = compileDryRun(c, metadata, action);
  const rawSelector = own(spec, "selector");
  const selector = rawSelector === undefined || rawSelector === null ? null : compileSelector(c, rawSelector);

  const ctx: FieldContext = {
    namespace: typeof namespace === "string" ? namespace : "",
    bundle: bundleOf(options),
    ...(pool === undefined ? {} : { pool }),
  };
  const rules: CompiledRule[] = [];
  const rawRules = own(spec, "rules");
  if (rawRules !== undefined && rawRules !== null && !Array.isArray(rawRules)) {
    c.error(["spec", "rules"], `expected a list of rules, got ${describe(rawRules)}`);
  } else if (Array.isArray(rawRules)) {
    for (let i = 0; i < rawRules.length; i++) {
      if (i > 0) yield;
      c.currentRule = i;
      const rule = compileRule(c, ctx, rawRules[i], ["spec", "rules", i], i);
      if (!rule) continue;
      const allowDecision =
        action === "ALLOW" ? decision("allow", `allowed by ALLOW policy ${c.policyId} rule ${i}`, c.policyId, i) : null;
      const line = doc.lineAt(["spec", "rules", i]);
      rules.push({
        index: rule.index,
        from: rule.from,
        to: rule.to,
        when: rule.when,
        needsIdentity: rule.needsIdentity,
        readsRisk: rule.readsRisk,
        readsHttpOnly: rule.readsHttpOnly,
        emptyLists: rule.emptyLists,
        unbuildable: rule.unbuildable,
        allowDecision,
        line,
      });
    }
    c.currentRule = null;
  }
  if (action === "DENY" && (!Array.isArray(rawRules) || rawRules.length === 0)) {
    c.error(
      ["spec"],
      "a DENY policy without rules would never deny anything (istiod refuses it); add an empty rule {} to deny every request",
    );
  }

  if (c.errors.length > 0 || action === null) return { policy: null, errors: c.errors };
  return {
    policy: {
      id: c.policyId,
      namespace: namespace as string,
      name: name as string,
      action,
      selector,
      rules: rules.slice(),
      dryRun,
      file: doc.file,
      line: doc.lineAt([]),
    },
    errors: [],
  };
}
