/**
 * Compiles documents the worker already checked, on the server's own thread, a few milliseconds at a time: between
 * slices the event loop answers Checks, so even a policy file at the size limit never stalls decisions for long.
 */
import { type SetFieldPool, setFieldPool } from "../policy/compile-field.js";
import {
  type CompileOptions,
  compilePolicySteps,
  type PathSegment,
  type PolicyDocument,
} from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { duplicateError } from "../policy/load-policy-set.js";
import { TimeSlices } from "../util/time-slices.js";
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

/** `pool`: shared with what else is compiled for the same set (default: one for these documents). */
export async function compileInSlices(
  documents: readonly TransferredDocument[],
  sliceMs: number,
  options: CompileOptions = {},
  pool: SetFieldPool = setFieldPool(),
): Promise<SlicedCompileResult> {
  const errors: PolicyLoadError[] = [];
  const policies: CompiledPolicy[] = [];
  const seen = new Map<string, string>();
  const slices = new TimeSlices(sliceMs);
  for (const transferred of documents) {
    const doc: PolicyDocument = { file: transferred.file, value: transferred.value, lineAt: lineTable(transferred) };
    const result = await slices.run(compilePolicySteps(doc, options, pool));
    errors.push(...result.errors);
    const policy = result.policy;
    if (policy) {
      const duplicate = duplicateError(policy, seen);
      if (duplicate) errors.push(duplicate);
      else policies.push(policy);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, policies };
}

/**
 * Compiles a policy source's objects (already made documents) the same way, a slice at a time: a worker rebuilds
 * every object of the set on each reload, and thousands of objects compiled at once would hold its Checks for a
 * quarter of a second. Stops at the first object that does not compile.
 */
export async function compileObjectsInSlices(
  documents: readonly PolicyDocument[],
  sliceMs: number,
  options: CompileOptions,
  pool: SetFieldPool,
): Promise<SlicedCompileResult> {
  const policies: CompiledPolicy[] = [];
  const slices = new TimeSlices(sliceMs);
  for (const doc of documents) {
    const result = await slices.run(compilePolicySteps(doc, options, pool));
    if (result.policy === null) return { ok: false, errors: result.errors };
    policies.push(result.policy);
  }
  return { ok: true, policies };
}
