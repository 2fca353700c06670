/**
 * One TrustgatePolicy object as read from the Kubernetes API: its identity, what of it decides (the content digest)
 * and its compilation through the loader's own compilePolicy. Pure.
 */
import { createHash } from "node:crypto";
import type { SetFieldPool } from "../policy/compile-field.js";
import { type CompileOptions, compilePolicy, type PolicyDocument } from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { objectDocument } from "../policy/object-document.js";
import { TRUSTGATE_KIND } from "../policy/policy-kinds.js";
import type { KubeObject } from "./list-watch.js";

export interface TrustgatePolicyObject extends KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: KubeObject["metadata"] & { readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: unknown;
  readonly status?: unknown;
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

/** How errors and explanations name the object: `TrustgatePolicy <namespace>/<name>`. */
export function objectOrigin(o: KubeObject): string {
  return `${TRUSTGATE_KIND} ${objectKey(o)}`;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v !== "object" || v === null) return v;
  // No prototype: on a plain {} a "__proto__" key (a legal selector label, say) would set the prototype instead of a
  // field, JSON.stringify would drop it, and an edit of it would leave the digest and so the compiled policy unchanged.
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
  return out;
}

/**
 * A hash of everything that decides what the policy does: kind, name, namespace, annotations (the dry-run switch)
 * and spec. Status writes and server bookkeeping (resourceVersion, managedFields) leave it unchanged, so they never
 * cause a recompile or a reload. (metadata.generation does not cover annotations, hence a digest.)
 */
export function contentDigest(o: TrustgatePolicyObject): string {
  const relevant = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata?.name,
    namespace: o.metadata?.namespace,
    annotations: o.metadata?.annotations ?? {},
    spec: o.spec,
  };
  return createHash("sha256")
    .update(JSON.stringify(canonical(relevant)))
    .digest("hex");
}

export type ObjectCompilation = { ok: true; policy: CompiledPolicy } | { ok: false; errors: PolicyLoadError[] };

/** The object as a policy document: what the source, a worker's rebuild and the admission webhook compile. */
export function objectPolicyDocument(o: TrustgatePolicyObject): PolicyDocument {
  return objectDocument(objectOrigin(o), o);
}

/** `pool`: fields already compiled for other objects of the same burst (see compile-field.ts), shared. */
export function compileObject(
  o: TrustgatePolicyObject,
  options: CompileOptions = {},
  pool?: SetFieldPool,
): ObjectCompilation {
  const result = compilePolicy(objectPolicyDocument(o), options, pool);
  if (result.policy === null) return { ok: false, errors: result.errors };
  return { ok: true, policy: result.policy };
}
