/**
 * The one way trustgate words validation errors from zod: `<origin>: <dotted.path>: <message>`, one line per issue.
 */
import type { z } from "zod";

/** `a.b.0.c`, or `(root)` for the top level. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

export function formatIssue(issue: z.core.$ZodIssue, origin?: string): string {
  const line = `${issuePath(issue.path)}: ${issue.message}`;
  return origin === undefined ? line : `${origin}: ${line}`;
}

/** Every issue, one per line. */
export function formatIssues(error: z.ZodError, origin?: string): string {
  return error.issues.map((issue) => formatIssue(issue, origin)).join("\n");
}

/** The first issue only, for one-line answers (HTTP 400 bodies, CLI errors). */
export function firstIssue(error: z.ZodError, origin?: string): string {
  const issue = error.issues[0];
  return issue === undefined ? `${origin ?? "(root)"}: invalid` : formatIssue(issue, origin);
}
