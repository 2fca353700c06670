/**
 * A policy set rebuilt from what it was built from (PolicyLoader's `activeInputs`): the policy files' checked
 * documents compiled the same way (in short slices, so a worker's Checks keep flowing), then each other source's
 * objects compiled with that source's own compiler, joined exactly as the loader joins them. A worker process builds
 * its set this way and must arrive at the primary's version.
 */
import { compileObject, type TrustgatePolicyObject } from "../kube/policy-object.js";
import { type SetFieldPool, setFieldPool } from "../policy/compile-field.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { PolicySet } from "../policy/policy-set.js";
import { type PolicySource, withSourcePolicies } from "../policy/policy-source.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";
import { COMPILE_SLICE_MS, compileInSlices } from "./sliced-compile.js";

/** A source's contribution as plain data (without its compiled policies). */
export interface SourceInputs {
  readonly name: string;
  readonly digest: string;
  readonly objects: readonly unknown[];
}

export type BuildResult = { ok: true; set: PolicySet } | { ok: false; errors: PolicyLoadError[] };

type ObjectCompiler = (
  object: unknown,
  compile: CompileOptions,
  pool: SetFieldPool,
) => { ok: true; policy: CompiledPolicy } | { ok: false; errors: PolicyLoadError[] };

/** How each kind of source compiles its objects. */
const COMPILERS: Readonly<Record<string, ObjectCompiler>> = {
  kubernetes: (object, compile, pool) => compileObject(object as TrustgatePolicyObject, compile, pool),
};

function failure(message: string): BuildResult {
  return { ok: false, errors: [{ file: "", line: 0, policy: "", rule: null, field: "", message }] };
}

export async function buildPolicySet(
  documents: readonly TransferredDocument[],
  digest: string,
  sources: readonly SourceInputs[],
  rootNamespace: string,
  compile: CompileOptions,
  sliceMs = COMPILE_SLICE_MS,
): Promise<BuildResult> {
  const compiled = await compileInSlices(documents, sliceMs, compile);
  if (!compiled.ok) return compiled;
  const rebuilt: PolicySource[] = [];
  // Objects share repeated fields as the files do (one pool per rebuild, dropped with it).
  const pool = setFieldPool();
  for (const source of sources) {
    const compiler = COMPILERS[source.name];
    if (compiler === undefined) return failure(`no compiler for policies from ${source.name}`);
    const policies: CompiledPolicy[] = [];
    for (const object of source.objects) {
      const result = compiler(object, compile, pool);
      if (!result.ok) return { ok: false, errors: result.errors };
      policies.push(result.policy);
    }
    const contributed = { policies, digest: source.digest };
    rebuilt.push({ name: source.name, ready: () => true, policies: () => contributed });
  }
  const files = { ok: true as const, set: new PolicySet(compiled.policies, rootNamespace, digest), files: [] };
  const joined = withSourcePolicies(files, rebuilt, rootNamespace);
  return joined.ok ? { ok: true, set: joined.set } : joined;
}
