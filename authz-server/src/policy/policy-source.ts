/**
 * Policies from somewhere other than the policy directory (the Kubernetes API): a source compiles its own documents
 * with compilePolicy and hands the loader the compiled policies it stands behind right now. The loader joins them
 * with the files' policies into one PolicySet and swaps that in, exactly as a file reload does.
 *
 * A policy file wins over a source policy with the same `<namespace>/<name>`: the source policy is left out (its
 * source reports that), so a second source can never replace a policy the operator ships as a file.
 */
import { createHash } from "node:crypto";
import type { CompiledPolicy } from "./compiled.js";
import type { LoadResult } from "./load-policy-set.js";
import { PolicySet } from "./policy-set.js";

export interface SourcePolicies {
  readonly policies: readonly CompiledPolicy[];
  /** Changes whenever the policies do (a content hash), so the set's version follows them. */
  readonly digest: string;
}

export interface PolicySource {
  /** For logs: "kubernetes". */
  readonly name: string;
  /** False until the source has its first complete view; no set is installed before every source is ready. */
  ready(): boolean;
  policies(): SourcePolicies;
}

/** The files' set plus every source's policies (files first; a source policy whose id a file already uses is left out). */
export function withSourcePolicies(
  files: LoadResult,
  sources: readonly PolicySource[],
  rootNamespace: string,
): LoadResult {
  if (!files.ok || sources.length === 0) return files;
  const taken = new Set(files.set.policies.map((p) => p.id));
  const policies: CompiledPolicy[] = [...files.set.policies];
  const digest = createHash("sha256").update(files.set.version);
  for (const source of sources) {
    const contributed = source.policies();
    digest.update("\0").update(source.name).update("\0").update(contributed.digest);
    for (const p of contributed.policies) {
      if (taken.has(p.id)) continue;
      taken.add(p.id);
      policies.push(p);
    }
  }
  return { ok: true, set: new PolicySet(policies, rootNamespace, digest.digest("hex")), files: files.files };
}
