/**
 * The record `explain` shows: every policy, whether it applies to the request and why, each rule, and each field's
 * value and result. Filled by the evaluator itself when asked, so explanations come from the live code path.
 */
import type { Action } from "./compiled.js";

export interface FieldTrace {
  readonly field: string;
  readonly written: readonly string[];
  readonly negate: boolean;
  /** The request's value for the attribute ("" when absent; redacted for sensitive headers). */
  readonly value: string;
  readonly passed: boolean;
  /** Why a check passed or failed beyond the value comparison (e.g. HTTP-only field on a TCP request). */
  readonly note: string;
}

export interface RuleTrace {
  readonly index: number;
  readonly line: number;
  readonly matched: boolean;
  readonly fields: FieldTrace[];
  /** Why the rule as a whole did not match beyond its fields ("" when its fields decide). */
  readonly note: string;
}

export interface PolicyTrace {
  readonly id: string;
  readonly action: Action;
  readonly dryRun: boolean;
  readonly file: string;
  readonly line: number;
  readonly inScope: boolean;
  readonly scopeNote: string;
  readonly rules: RuleTrace[];
}

export interface Trace {
  readonly policies: PolicyTrace[];
}
