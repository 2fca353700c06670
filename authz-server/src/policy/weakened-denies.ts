/**
 * What a new policy set takes away from the DENY policies of the one it replaces: a DENY that is gone (a truncated or
 * half-written file, a file deleted by mistake), one that became another action, or one switched to dry-run (no
 * longer enforced). The loader reports these loudly. (A DENY without rules, which would deny nothing, never loads.)
 */
import type { PolicySet } from "./policy-set.js";

export type DenyChange = "removed" | "dry-run";

export interface WeakenedDeny {
  readonly policy: string;
  readonly change: DenyChange;
}

export function weakenedDenies(before: PolicySet | null, after: PolicySet): WeakenedDeny[] {
  if (before === null) return [];
  const out: WeakenedDeny[] = [];
  const next = new Map(after.policies.map((p) => [p.id, p]));
  for (const old of before.policies) {
    if (old.action !== "DENY" || old.dryRun || old.rules.length === 0) continue;
    const now = next.get(old.id);
    if (now === undefined || now.action !== "DENY" || now.rules.length === 0) {
      out.push({ policy: old.id, change: "removed" });
    } else if (now.dryRun) out.push({ policy: old.id, change: "dry-run" });
  }
  return out;
}
