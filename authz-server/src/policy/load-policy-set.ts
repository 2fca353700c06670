/**
 * Directory (or files) → PolicySet. All or nothing: any error anywhere means no set, so a broken file can never
 * leave a partial policy set in force. The steps (read, parse, compile) are exported for the server's off-thread
 * loader, which runs the first two and a validating compile in a worker thread.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { DEFAULT_YAML_LIMITS, sizeProblem, type YamlLimits } from "../util/safe-yaml.js";
import { type SetFieldPool, setFieldPool } from "./compile-field.js";
import { type CompileOptions, compilePolicy, type PolicyDocument } from "./compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "./compiled.js";
import { listYamlFiles, parsePolicyText } from "./policy-files.js";
import { PolicySet } from "./policy-set.js";

export type LoadResult = { ok: true; set: PolicySet; files: string[] } | { ok: false; errors: PolicyLoadError[] };

export interface LoadOptions {
  readonly rootNamespace: string;
  /** Paths in errors are shown relative to this directory (default: the working directory). */
  readonly displayBase?: string;
  /** Limits on each policy file (default: DEFAULT_YAML_LIMITS). */
  readonly limits?: YamlLimits;
  /** Mesh facts policy values depend on (trust domain and aliases). */
  readonly compile?: CompileOptions;
}

export interface PolicySource {
  readonly file: string;
  /** The path shown in errors and traces. */
  readonly display: string;
  readonly text: string;
}

/** The files that could be read, and an error for each that could not (all are reported, not just the first). */
export interface SourcesResult {
  readonly sources: PolicySource[];
  readonly errors: PolicyLoadError[];
}

/** A policy path that cannot be read, named absolutely, with what a relative path was resolved against. */
function unreadablePath(paths: readonly string[], err: unknown): PolicyLoadError {
  const e = err as NodeJS.ErrnoException;
  const path = e.path ?? paths.join(", ");
  const relativeNote =
    e.path !== undefined && resolve(e.path) !== e.path
      ? ` ("${e.path}" is relative to the current directory, ${process.cwd()})`
      : "";
  // The first path is the policy directory; the others are extra directories, set elsewhere.
  const extra = e.path !== undefined && paths.length > 1 && resolve(e.path) !== resolve(paths[0]!);
  const fix = extra
    ? "fix or remove it in policies.extraDirs (or TRUSTGATE_POLICY_EXTRA_DIRS, or the second and later --policy-dir)"
    : "give the directory of your AuthorizationPolicy files with --policy-dir (or TRUSTGATE_POLICY_DIR)";
  const message =
    e.code === "ENOENT"
      ? `no such policy file or directory${relativeNote}: ${fix}`
      : `cannot read${relativeNote}: ${e.message}`;
  return { file: e.path !== undefined ? resolve(e.path) : path, line: 0, policy: "", rule: null, field: "", message };
}

function fileError(file: string, message: string, line = 0): PolicyLoadError {
  return { file, line, policy: "", rule: null, field: "", message };
}

/** Reads every policy file under `paths`; a file over the size limit is refused before it is read. */
export async function readPolicySources(paths: readonly string[], options: LoadOptions): Promise<SourcesResult> {
  const base = options.displayBase ?? process.cwd();
  const limits = options.limits ?? DEFAULT_YAML_LIMITS;
  let files: string[];
  try {
    files = await listYamlFiles(paths);
  } catch (err) {
    return { sources: [], errors: [unreadablePath(paths, err)] };
  }
  const errors: PolicyLoadError[] = [];
  const sources: PolicySource[] = [];
  for (const file of files) {
    const rel = relative(base, file);
    const display = rel === "" || rel.startsWith("..") ? file : rel;
    try {
      const tooBig = sizeProblem((await stat(file)).size, limits);
      if (tooBig) {
        errors.push(fileError(display, tooBig.message, tooBig.line));
        continue;
      }
      sources.push({ file, display, text: await readFile(file, "utf8") });
    } catch (err) {
      errors.push(fileError(display, `cannot read: ${(err as Error).message}`));
    }
  }
  return { sources, errors };
}

/** The content digest a set's version is made from: the same files give the same version on every replica. */
export function sourceDigest(sources: readonly PolicySource[]): string {
  const digest = createHash("sha256");
  for (const s of sources) digest.update(s.display).update("\0").update(s.text).update("\0");
  return digest.digest("hex");
}

export interface ParseResult {
  readonly documents: PolicyDocument[];
  readonly errors: PolicyLoadError[];
}

export function parsePolicySources(sources: readonly PolicySource[], limits: YamlLimits): ParseResult {
  const errors: PolicyLoadError[] = [];
  const documents: PolicyDocument[] = [];
  for (const source of sources) {
    const parsed = parsePolicyText(source.text, source.display, limits);
    errors.push(...parsed.errors);
    documents.push(...parsed.documents);
  }
  return { documents, errors };
}

export interface CompileResult {
  readonly policies: CompiledPolicy[];
  readonly errors: PolicyLoadError[];
}

/** Compiles documents and refuses duplicate policy ids. */
export function compileDocuments(
  documents: readonly PolicyDocument[],
  options: CompileOptions = {},
  pool: SetFieldPool = setFieldPool(),
): CompileResult {
  const errors: PolicyLoadError[] = [];
  const policies: CompiledPolicy[] = [];
  const seen = new Map<string, string>();
  for (const doc of documents) {
    const result = compilePolicy(doc, options, pool);
    errors.push(...result.errors);
    if (result.policy) {
      const duplicate = duplicateError(result.policy, seen);
      if (duplicate) errors.push(duplicate);
      else policies.push(result.policy);
    }
  }
  return { policies, errors };
}

/** Registers the policy's id in `seen`, or returns the error for a second definition of it. */
export function duplicateError(policy: CompiledPolicy, seen: Map<string, string>): PolicyLoadError | null {
  const previous = seen.get(policy.id);
  if (previous) {
    return {
      file: policy.file,
      line: policy.line,
      policy: policy.id,
      rule: null,
      field: "metadata.name",
      message: `duplicate policy ${policy.id} (also defined at ${previous})`,
    };
  }
  seen.set(policy.id, `${policy.file}:${policy.line}`);
  return null;
}

export async function loadPolicySet(paths: readonly string[], options: LoadOptions): Promise<LoadResult> {
  const read = await readPolicySources(paths, options);
  const parsed = parsePolicySources(read.sources, options.limits ?? DEFAULT_YAML_LIMITS);
  const compiled = compileDocuments(parsed.documents, options.compile);
  const errors = [...read.errors, ...parsed.errors, ...compiled.errors];
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    set: new PolicySet(compiled.policies, options.rootNamespace, sourceDigest(read.sources)),
    files: read.sources.map((s) => s.file),
  };
}
