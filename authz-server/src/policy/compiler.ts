/**
 * Error collection for compiling one policy document: every error carries the file, line, policy, rule and field
 * it is about. Shared by compile-policy.ts and compile-rule.ts.
 */
import type { PolicyLoadError } from "./compiled.js";

export type PathSegment = string | number;

export interface PolicyDocument {
  readonly file: string;
  /** The parsed document (plain JSON values). */
  readonly value: unknown;
  /** Line (1-based) of the node at a path inside the document, or of the nearest parent that exists. */
  lineAt(path: readonly PathSegment[]): number;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `${typeof v} ${JSON.stringify(v)}`;
}

function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** The value of an own key of a map (never an inherited one such as `constructor`). */
export function own(map: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

export class Compiler {
  readonly errors: PolicyLoadError[] = [];
  policyId = "";
  currentRule: number | null = null;

  constructor(readonly doc: PolicyDocument) {}

  error(path: readonly PathSegment[], message: string): void {
    this.errors.push({
      file: this.doc.file,
      line: this.doc.lineAt(path),
      policy: this.policyId,
      rule: this.currentRule,
      field: formatPath(path),
      message,
    });
  }

  /** Checks that `value` is a map with only `allowed` keys. */
  map(value: unknown, path: readonly PathSegment[], allowed: readonly string[]): Record<string, unknown> | null {
    if (!isPlainObject(value)) {
      this.error(path, `expected a map, got ${describe(value)}`);
      return null;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.error([...path, key], `unknown field "${key}" (expected one of: ${allowed.join(", ")})`);
    }
    return value;
  }

  stringList(value: unknown, path: readonly PathSegment[]): string[] | null {
    if (!Array.isArray(value)) {
      this.error(path, `expected a list of strings, got ${describe(value)}`);
      return null;
    }
    // Sized up front: compiled checks keep this list, and a pushed-to array would keep spare capacity with it.
    const out = new Array<string>(value.length);
    let ok = true;
    value.forEach((item, i) => {
      // Ports are often written as YAML numbers; everything else must be a string.
      if (typeof item === "string") out[i] = item;
      else if (typeof item === "number" && Number.isInteger(item)) out[i] = String(item);
      else {
        this.error([...path, i], `expected a string, got ${describe(item)}`);
        ok = false;
      }
    });
    return ok ? out : null;
  }
}
