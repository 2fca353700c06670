/**
 * A policy set rebuilt from what it was built from (PolicyLoader's `activeInputs`): the policy files' checked
 * documents compiled the same way, then each other source's objects made documents as that source makes them, all in
 * short slices (a worker's Checks keep flowing) and sharing repeated fields, joined exactly as the loader joins them.
 * A worker process builds its set this way and must arrive at the primary's version.
 */
import { objectPolicyDocument, type TrustgatePolicyObject } from "../kube/policy-object.js";
import { setFieldPool } from "../policy/compile-field.js";
import type { CompileOptions, PolicyDocument } from "../policy/compile-policy.js";
import type { PolicyLoadError } from "../policy/compiled.js";
import { PolicySet } from "../policy/policy-set.js";
import { type PolicySource, withSourcePolicies } from "../policy/policy-source.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";
import { COMPILE_SLICE_MS, compileInSlices, compileObjectsInSlices } from "./sliced-compile.js";

/** A source's contribution as plain data (without its compiled policies). */
export interface SourceInputs {
  readonly name: string;
  readonly digest: string;
  readonly objects: readonly unknown[];
}

export type BuildResult = { ok: true; set: PolicySet } | { ok: false; errors: PolicyLoadError[] };

/** How each kind of source makes its objects policy documents (as the source itself does before compiling them). */
const DOCUMENTS: Readonly<Record<string, (object: unknown) => PolicyDocument>> = {
  kubernetes: (object) => objectPolicyDocument(object as TrustgatePolicyObject),
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
  // One pool for the whole set: files and objects share repeated fields, and it goes with this rebuild.
  const pool = setFieldPool();
  const compiled = await compileInSlices(documents, sliceMs, compile, pool);
  if (!compiled.ok) return compiled;
  const rebuilt: PolicySource[] = [];
  for (const source of sources) {
    const documentOf = DOCUMENTS[source.name];
    if (documentOf === undefined) return failure(`no compiler for policies from ${source.name}`);
    const objects = await compileObjectsInSlices(source.objects.map(documentOf), sliceMs, compile, pool);
    if (!objects.ok) return objects;
    const contributed = { policies: objects.policies, digest: source.digest };
    rebuilt.push({ name: source.name, ready: () => true, policies: () => contributed });
  }
  const files = { ok: true as const, set: new PolicySet(compiled.policies, rootNamespace, digest), files: [] };
  const joined = withSourcePolicies(files, rebuilt, rootNamespace);
  return joined.ok ? { ok: true, set: joined.set } : joined;
}
