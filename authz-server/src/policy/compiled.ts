/**
 * The compiled form of AuthorizationPolicies: what the evaluator walks. Built once per policy set by
 * compile-policy.ts; immutable afterwards, so a set can be swapped atomically under live traffic.
 */

import type { Decision } from "../model/decision.js";
import type { RequestModel } from "../model/request-model.js";
import type { Attribute } from "./attributes.js";
import type { Matcher } from "./matchers/matcher.js";

export type Action = "ALLOW" | "DENY" | "AUDIT";

/**
 * One field of a rule. `exact` is Istio's (Envoy's) meaning of the field. Two variants exist where Istio has a
 * documented trap, and each is used only where it can add denials, never allows:
 *  - `wide` ⊇ exact, used for positive checks in DENY rules (a DENY on `example.com` also denies
 *    `example.com:8080`);
 *  - `narrow` ⊆ exact, used for positive checks in ALLOW rules (`values: ["*"]` on a header also requires it to be
 *    non-empty, as Istio's documentation promises).
 * Negated checks always use `exact`.
 */
export interface FieldCheck {
  /** Where the check came from, for explanations: `from[0].source.principals`, `when[1] custom.falco_alert`. */
  readonly field: string;
  readonly attribute: Attribute;
  /** Lower-cased header name, filter namespace (experimental keys), claim path; "" otherwise. */
  readonly key: string;
  readonly exact: Matcher;
  readonly wide: Matcher | null;
  readonly narrow: Matcher | null;
  /** `not*` fields and `notValues`: the check passes when the matcher does not match. */
  readonly negate: boolean;
  /** The values as written, for explanations and lint. */
  readonly written: readonly string[];
  /** The request's value as explanations show it. */
  readonly show: (model: RequestModel) => string;
}

/** One entry of `from` or `to`: all its checks must pass. */
export type Clause = readonly FieldCheck[];

export interface CompiledRule {
  readonly index: number;
  /** null when the rule has no `from` (any source). Otherwise at least one clause must pass. */
  readonly from: readonly Clause[] | null;
  readonly to: readonly Clause[] | null;
  /** All must pass. */
  readonly when: readonly FieldCheck[];
  /** The rule reads the caller's identity, so an anonymous caller fails it for lack of identity. */
  readonly needsIdentity: boolean;
  /** The rule reads Falco risk: a decision it makes names the alert behind it. */
  readonly readsRisk: boolean;
  /**
   * The rule has an HTTP-only field somewhere (any `from` or `to` entry, or `when`). istiod cannot generate such an
   * ALLOW rule for a TCP filter chain and drops the whole rule there, not only the entry that holds the field.
   */
  readonly readsHttpOnly: boolean;
  /** `from` or `to` written as an empty list: read as absent (any source or operation), as istiod reads it. */
  readonly emptyLists: readonly ("from" | "to")[];
  /**
   * Conditions istiod accepts but cannot build a matcher from (e.g. `request.headersX[y]`), with why: an ALLOW rule
   * holding one never matches; in DENY and AUDIT rules they are left out, as istiod leaves them out.
   */
  readonly unbuildable: readonly string[];
  /** For ALLOW policies: the decision when this rule matches, built once (allows are the hot path). */
  readonly allowDecision: Decision | null;
  readonly line: number;
}

export interface CompiledPolicy {
  /** `<namespace>/<name>`. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: Action;
  /** null = every workload of the namespace (or of the mesh for the root namespace). */
  readonly selector: ReadonlyArray<readonly [string, string]> | null;
  readonly rules: readonly CompiledRule[];
  /** `istio.io/dry-run` true: evaluated and reported, never enforced. */
  readonly dryRun: boolean;
  readonly file: string;
  readonly line: number;
}

export interface PolicyLoadError {
  /** A file, or the object a document came from (`TrustgatePolicy <namespace>/<name>`). */
  readonly file: string;
  /** 1-based; 0 when there is no line (see formatLoadError). */
  readonly line: number;
  /** `<namespace>/<name>` when known. */
  readonly policy: string;
  readonly rule: number | null;
  /** Dotted path of the offending field, e.g. `spec.rules[0].from[0].source.principals[1]`. */
  readonly field: string;
  readonly message: string;
}

export function formatLoadError(e: PolicyLoadError): string {
  const where = [e.policy && `policy ${e.policy}`, e.rule !== null && `rule ${e.rule}`, e.field && `field ${e.field}`]
    .filter(Boolean)
    .join(", ");
  // Line 0: no line to point at (the file or directory as a whole, an object from the Kubernetes API).
  return `${e.file}${e.line > 0 ? `:${e.line}` : ""}: ${where ? `${where}: ` : ""}${e.message}`;
}
