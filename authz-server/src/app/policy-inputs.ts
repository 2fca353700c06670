/**
 * A policy set rebuilt from what it was built from (PolicyLoader's `activeInputs`): the policy files' texts compiled
 * the same way, then each other source's objects compiled with that source's own compiler, joined exactly as the
 * loader joins them. A worker process builds its set this way and must arrive at the primary's version.
 */

import type { TrustgatePolicyObject } from "../kube/policy-object.js";
import { compileObject } from "../kube/policy-object.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { type CompileResult, compilePolicySources, type PolicyText } from "../policy/load-policy-set.js";
import { type PolicySource, withSourcePolicies } from "../policy/policy-source.js";

/** A source's contribution as plain data (without its compiled policies). */
export interface SourceInputs {
  readonly name: string;
  readonly digest: string;
  readonly objects: readonly unknown[];
}

type ObjectCompiler = (
  object: unknown,
  compile: CompileOptions,
) => { ok: true; policy: CompiledPolicy } | { ok: false; errors: PolicyLoadError[] };

/** How each kind of source compiles its objects. */
const COMPILERS: Readonly<Record<string, ObjectCompiler>> = {
  kubernetes: (object, compile) => compileObject(object as TrustgatePolicyObject, compile),
};

function failure(message: string): CompileResult {
  return { ok: false, errors: [{ file: "", line: 0, policy: "", rule: null, field: "", message }] };
}

export function buildPolicySet(
  files: readonly PolicyText[],
  sources: readonly SourceInputs[],
  rootNamespace: string,
  compile: CompileOptions,
): CompileResult {
  const fromFiles = compilePolicySources(files, rootNamespace, compile);
  if (!fromFiles.ok) return fromFiles;
  const rebuilt: PolicySource[] = [];
  for (const source of sources) {
    const compiler = COMPILERS[source.name];
    if (compiler === undefined) return failure(`no compiler for policies from ${source.name}`);
    const policies: CompiledPolicy[] = [];
    for (const object of source.objects) {
      const result = compiler(object, compile);
      if (!result.ok) return { ok: false, errors: result.errors };
      policies.push(result.policy);
    }
    const contributed = { policies, digest: source.digest };
    rebuilt.push({ name: source.name, ready: () => true, policies: () => contributed });
  }
  const joined = withSourcePolicies({ ok: true, set: fromFiles.set, files: [], sources: [] }, rebuilt, rootNamespace);
  return joined.ok ? { ok: true, set: joined.set } : joined;
}
