/**
 * Directory (or files) → PolicySet. All or nothing: any error anywhere means no set, so a broken file can never
 * leave a partial policy set in force.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { type CompileOptions, compilePolicy } from "./compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "./compiled.js";
import { listYamlFiles, parsePolicyText } from "./policy-files.js";
import { PolicySet } from "./policy-set.js";

export type LoadResult = { ok: true; set: PolicySet; files: string[] } | { ok: false; errors: PolicyLoadError[] };

export interface LoadOptions {
  readonly rootNamespace: string;
  /** Paths in errors are shown relative to this directory (default: the working directory). */
  readonly displayBase?: string;
  /** Mesh facts policy values depend on (trust domain and aliases). */
  readonly compile?: CompileOptions;
}

/** A policy path that cannot be read, named absolutely, with what a relative path was resolved against. */
function unreadablePath(paths: readonly string[], err: unknown): PolicyLoadError {
  const e = err as NodeJS.ErrnoException;
  const path = e.path ?? paths.join(", ");
  const relativeNote =
    e.path !== undefined && resolve(e.path) !== e.path
      ? ` ("${e.path}" is relative to the current directory, ${process.cwd()})`
      : "";
  const message =
    e.code === "ENOENT"
      ? `no such policy file or directory${relativeNote}: give the directory of your AuthorizationPolicy files with --policy-dir (or TRUSTGATE_POLICY_DIR)`
      : `cannot read${relativeNote}: ${e.message}`;
  return { file: e.path !== undefined ? resolve(e.path) : path, line: 0, policy: "", rule: null, field: "", message };
}

export async function loadPolicySet(paths: readonly string[], options: LoadOptions): Promise<LoadResult> {
  const base = options.displayBase ?? process.cwd();
  let files: string[];
  try {
    files = await listYamlFiles(paths);
  } catch (err) {
    return { ok: false, errors: [unreadablePath(paths, err)] };
  }
  const errors: PolicyLoadError[] = [];
  const policies: CompiledPolicy[] = [];
  const seen = new Map<string, string>();
  const digest = createHash("sha256");
  for (const file of files) {
    const rel = relative(base, file);
    const display = rel === "" || rel.startsWith("..") ? file : rel;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      errors.push({
        file: display,
        line: 0,
        policy: "",
        rule: null,
        field: "",
        message: `cannot read: ${(err as Error).message}`,
      });
      continue;
    }
    digest.update(display).update("\0").update(text).update("\0");
    const parsed = parsePolicyText(text, display);
    errors.push(...parsed.errors);
    for (const doc of parsed.documents) {
      const result = compilePolicy(doc, options.compile);
      errors.push(...result.errors);
      if (!result.policy) continue;
      const where = `${display}:${result.policy.line}`;
      const previous = seen.get(result.policy.id);
      if (previous) {
        errors.push({
          file: display,
          line: result.policy.line,
          policy: result.policy.id,
          rule: null,
          field: "metadata.name",
          message: `duplicate policy ${result.policy.id} (also defined at ${previous})`,
        });
        continue;
      }
      seen.set(result.policy.id, where);
      policies.push(result.policy);
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, set: new PolicySet(policies, options.rootNamespace, digest.digest("hex")), files };
}
