/**
 * Messages between the server and its policy worker thread. Everything here survives structured cloning: plain
 * values, no functions, no class instances. A document crosses the thread boundary as its plain value plus the
 * lines the compiler asks for (the policy's own line and each rule's), in chunks small enough that receiving one
 * never holds up the Checks on the server's event loop for long.
 */
import type { CompileOptions } from "../policy/compile-policy.js";
import type { PolicyLoadError } from "../policy/compiled.js";
import type { LintContext, LintWarning } from "../policy-tools/lint.js";
import type { YamlLimits } from "../util/safe-yaml.js";

export interface LoadRequest {
  readonly type: "load";
  readonly id: number;
  readonly paths: readonly string[];
  readonly rootNamespace: string;
  readonly limits: YamlLimits;
  readonly lint: LintContext;
  readonly compile: CompileOptions;
  /**
   * Run this load (and every later one) at a lower CPU priority: set once Checks are being served, so the first load
   * at start-up is not slowed by a busy machine while nothing needs protecting yet.
   */
  readonly lowPriority: boolean;
  /** Approximate size (JSON characters) of one message; bigger documents are sent rule list first, rules after. */
  readonly chunkChars: number;
}

/** Lint warnings sent (and logged) one by one per load; the rest are only counted by code. */
export const LINT_WARNINGS_SENT = 100;

export interface TransferredDocument {
  readonly file: string;
  readonly value: unknown;
  readonly line: number;
  readonly ruleLines: readonly number[];
  /** The document's `spec.rules` arrive in the `rules` messages that follow. */
  readonly rulesFollow: boolean;
}

export type WorkerMessage =
  | { readonly type: "documents"; readonly id: number; readonly documents: readonly TransferredDocument[] }
  | { readonly type: "rules"; readonly id: number; readonly rules: readonly unknown[] }
  | {
      readonly type: "loaded";
      readonly id: number;
      readonly digest: string;
      readonly files: readonly string[];
      readonly documents: number;
      /** The first LINT_WARNINGS_SENT lint warnings… */
      readonly warnings: readonly LintWarning[];
      /** …and how many more there are, by code. */
      readonly moreWarnings: Readonly<Record<string, number>>;
    }
  | { readonly type: "failed"; readonly id: number; readonly errors: readonly PolicyLoadError[] };
