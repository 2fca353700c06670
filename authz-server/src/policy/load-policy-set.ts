/**
 * Directory (or files) → PolicySet, in two steps: reading the policy files (`readPolicySources`, I/O) and compiling
 * their text (`compilePolicySources`, pure). All or nothing: any error anywhere means no set, so a broken file can
 * never leave a partial policy set in force.
 *
 * The split lets a set be rebuilt elsewhere from exactly the text it was built from: worker processes compile the
 * sources the primary read, so every process serves the same version even if the files change in between.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { type CompileOptions, compilePolicy } from "./compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "./compiled.js";
import { listYamlFiles, parsePolicyText } from "./policy-files.js";
import { PolicySet } from "./policy-set.js";

/** One policy file's text, under the name errors and the version use for it. */
export interface PolicyText {
  readonly file: string;
  readonly text: string;
}

export type LoadResult =
  | { ok: true; set: PolicySet; files: string[]; sources: PolicyText[] }
  | { ok: false; errors: PolicyLoadError[] };

export type CompileResult = { ok: true; set: PolicySet } | { ok: false; errors: PolicyLoadError[] };

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

export interface ReadSources {
  readonly files: string[];
  readonly sources: PolicyText[];
  readonly errors: PolicyLoadError[];
}

function fileError(file: string, message: string): PolicyLoadError {
  return { file, line: 0, policy: "", rule: null, field: "", message };
}

/** Reads every policy file under `paths` (see policy-files.ts for which files count). */
export async function readPolicySources(paths: readonly string[], displayBase = process.cwd()): Promise<ReadSources> {
  let files: string[];
  try {
    files = await listYamlFiles(paths);
  } catch (err) {
    return { files: [], sources: [], errors: [unreadablePath(paths, err)] };
  }
  const sources: PolicyText[] = [];
  const errors: PolicyLoadError[] = [];
  for (const file of files) {
    const rel = relative(displayBase, file);
    const display = rel === "" || rel.startsWith("..") ? file : rel;
    try {
      sources.push({ file: display, text: await readFile(file, "utf8") });
    } catch (err) {
      errors.push(fileError(display, `cannot read: ${(err as Error).message}`));
    }
  }
  return { files, sources, errors };
}

/** Compiles policy file texts into a set; the version is a hash of the names and texts. */
export function compilePolicySources(
  sources: readonly PolicyText[],
  rootNamespace: string,
  compile?: CompileOptions,
): CompileResult {
  const errors: PolicyLoadError[] = [];
  const policies: CompiledPolicy[] = [];
  const seen = new Map<string, string>();
  const digest = createHash("sha256");
  for (const { file: display, text } of sources) {
    digest.update(display).update("\0").update(text).update("\0");
    const parsed = parsePolicyText(text, display);
    errors.push(...parsed.errors);
    for (const doc of parsed.documents) {
      const result = compilePolicy(doc, compile);
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
  return { ok: true, set: new PolicySet(policies, rootNamespace, digest.digest("hex")) };
}

export async function loadPolicySet(paths: readonly string[], options: LoadOptions): Promise<LoadResult> {
  const read = await readPolicySources(paths, options.displayBase);
  const compiled = compilePolicySources(read.sources, options.rootNamespace, options.compile);
  const errors = [...read.errors, ...(compiled.ok ? [] : compiled.errors)];
  if (errors.length > 0 || !compiled.ok) return { ok: false, errors };
  return { ok: true, set: compiled.set, files: read.files, sources: read.sources };
}
