/**
 * An immutable, indexed set of compiled policies. The evaluator only looks at the root namespace's policies and at
 * the destination namespace's, each already split by action, so scoping costs two map lookups.
 */
import { createHash } from "node:crypto";
import type { CompiledPolicy } from "./compiled.js";

export interface PolicyGroup {
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
}

const EMPTY_GROUP: PolicyGroup = Object.freeze({ deny: [], allow: [], audit: [] });

function group(policies: readonly CompiledPolicy[]): PolicyGroup {
  return {
    deny: policies.filter((p) => p.action === "DENY"),
    allow: policies.filter((p) => p.action === "ALLOW"),
    audit: policies.filter((p) => p.action === "AUDIT"),
  };
}

export class PolicySet {
  readonly policies: readonly CompiledPolicy[];
  /** Short content hash: the same policies give the same version on every replica. */
  readonly version: string;
  readonly loadedAt: Date;
  readonly hasDryRun: boolean;
  private readonly groups: ReadonlyMap<string, PolicyGroup>;
  readonly root: PolicyGroup;

  constructor(
    policies: readonly CompiledPolicy[],
    readonly rootNamespace: string,
    sourceDigest: string,
  ) {
    this.policies = [...policies].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const byNamespace = new Map<string, CompiledPolicy[]>();
    for (const p of this.policies) {
      const list = byNamespace.get(p.namespace) ?? [];
      list.push(p);
      byNamespace.set(p.namespace, list);
    }
    const groups = new Map<string, PolicyGroup>();
    for (const [ns, list] of byNamespace) groups.set(ns, group(list));
    this.groups = groups;
    this.root = groups.get(rootNamespace) ?? EMPTY_GROUP;
    this.hasDryRun = this.policies.some((p) => p.dryRun);
    this.version = createHash("sha256").update(sourceDigest).update(rootNamespace).digest("hex").slice(0, 12);
    this.loadedAt = new Date();
  }

  /** Policies of the destination namespace (not the root namespace, which `root` holds). */
  namespaceGroup(namespace: string): PolicyGroup {
    if (namespace === this.rootNamespace) return EMPTY_GROUP;
    return this.groups.get(namespace) ?? EMPTY_GROUP;
  }

  find(id: string): CompiledPolicy | undefined {
    return this.policies.find((p) => p.id === id);
  }
}
