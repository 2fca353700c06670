/**
 * Compiles documents the worker already checked, on the server's own thread, a few milliseconds at a time: between
 * slices the event loop answers Checks, so even a policy file at the size limit never stalls decisions for long.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFieldPool } from "../policy/compile-field.js";
import {
  type CompileOptions,
  compilePolicySteps,
  type PathSegment,
  type PolicyCompileResult,
  type PolicyDocument,
} from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { duplicateError } from "../policy/load-policy-set.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";

/**
 * The longest stretch of compiling between two chances for Checks to run. A Check that arrives during a slice waits
 * for its end, so this is what a reload adds to a Check's latency (GC aside); each yield costs a few microseconds.
 */
export const COMPILE_SLICE_MS = 0.1;

export type SlicedCompileResult = { ok: true; policies: CompiledPolicy[] } | { ok: false; errors: PolicyLoadError[] };

/** The lines the worker measured: the policy's own and each rule's; anything deeper points at its rule. */
function lineTable(doc: TransferredDocument): (path: readonly PathSegment[]) => number {
  return (path) => {
    if (path[0] === "spec" && path[1] === "rules" && typeof path[2] === "number") {
      return doc.ruleLines[path[2]] ?? doc.line;
    }
    return doc.line;
  };
}

export async function compileInSlices(
  documents: readonly TransferredDocument[],
  sliceMs: number,
  options: CompileOptions = {},
): Promise<SlicedCompileResult> {
  const errors: PolicyLoadError[] = [];
  const policies: CompiledPolicy[] = [];
  const seen = new Map<string, string>();
  const pool = setFieldPool();
  let sliceStart = performance.now();
  for (const transferred of documents) {
    const doc: PolicyDocument = { file: transferred.file, value: transferred.value, lineAt: lineTable(transferred) };
    const steps = compilePolicySteps(doc, options, pool);
    let step: IteratorResult<void, PolicyCompileResult>;
    do {
      if (performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
      step = steps.next();
    } while (!step.done);
    errors.push(...step.value.errors);
    const policy = step.value.policy;
    if (policy) {
      const duplicate = duplicateError(policy, seen);
      if (duplicate) errors.push(duplicate);
      else policies.push(policy);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, policies };
}
