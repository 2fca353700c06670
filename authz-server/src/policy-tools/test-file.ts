/**
 * Policy unit test files (`*.test.yaml` beside the policies): a list of cases, each a request description and the
 * expected decision (and optionally the deciding policy, rule, or a reason fragment).
 */
import { readFile, stat } from "node:fs/promises";
import { type Document, isMap, isNode, isSeq, type LineCounter } from "yaml";
import { z } from "zod";
import { didYouMean } from "../util/did-you-mean.js";
import { issuePath } from "../util/format-issues.js";
import {
  DEFAULT_YAML_LIMITS,
  formatYamlProblem,
  parseYamlDocuments,
  sizeProblem,
  type YamlLimits,
} from "../util/safe-yaml.js";
import { objectKeysAt } from "../util/schema-keys.js";
import { type RequestDescription, requestDescriptionSchema } from "./request-description.js";

export const expectationSchema = z
  .object({
    decision: z.enum(["allow", "deny"]),
    /** `deny` covers both 403 and 401; `outcome: unauthenticated` pins the 401. */
    outcome: z.enum(["allow", "deny", "unauthenticated"]).optional(),
    policy: z.string().optional(),
    rule: z.number().int().optional(),
    reasonContains: z.string().optional(),
  })
  .strict();

export type Expectation = z.infer<typeof expectationSchema>;

const caseSchema = z
  .object({
    name: z.string().min(1),
    request: requestDescriptionSchema,
    expect: expectationSchema,
  })
  .strict();

const fileSchema = z
  .object({
    /** Free-form values to define YAML anchors in (`&order {...}`) and reuse with aliases (`*order`). */
    fixtures: z.record(z.string(), z.unknown()).optional(),
    cases: z.array(caseSchema).min(1),
  })
  .strict();

export interface TestCase {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly request: RequestDescription;
  readonly expect: Expectation;
}

/** Errors: every problem in the file, one `file:line: …` line each. */
export type TestFileResult = { ok: true; cases: TestCase[] } | { ok: false; errors: string[] };

/** The line of the deepest node of `path` that exists (a missing field points at its parent). */
function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number {
  let line = 1;
  for (let depth = 0; depth <= path.length; depth++) {
    const node = doc.getIn(path.slice(0, depth) as (string | number)[], true);
    if (!isNode(node) || !node.range) break;
    line = counter.linePos(node.range[0]).line;
  }
  return line;
}

/** The line of `key` inside the map at `path` (where an unknown key was written). */
function keyLine(doc: Document, counter: LineCounter, path: readonly PropertyKey[], key: string): number {
  const map = doc.getIn(path as (string | number)[], true);
  if (isMap(map)) {
    const pair = map.items.find((item) => isNode(item.key) && (item.key as { value?: unknown }).value === key);
    const range = pair && isNode(pair.key) ? pair.key.range : undefined;
    if (range) return counter.linePos(range[0]).line;
  }
  return lineOf(doc, counter, path);
}

function describeIssues(issues: readonly z.core.$ZodIssue[], doc: Document, counter: LineCounter, display: string) {
  const found: Array<{ line: number; text: string }> = [];
  for (const issue of issues) {
    const where = issuePath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const known = objectKeysAt(fileSchema, issue.path);
      for (const key of issue.keys) {
        found.push({
          line: keyLine(doc, counter, issue.path, key),
          text: `${where}: unknown key "${key}"${didYouMean(key, known)}${known.length > 0 ? ` (allowed: ${known.join(", ")})` : ""}`,
        });
      }
      continue;
    }
    found.push({ line: lineOf(doc, counter, issue.path), text: `${where}: ${issue.message}` });
  }
  return found.sort((a, b) => a.line - b.line).map((f) => `${display}:${f.line}: ${f.text}`);
}

export async function readTestFile(
  file: string,
  display = file,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): Promise<TestFileResult> {
  let text: string;
  try {
    const tooBig = sizeProblem((await stat(file)).size, limits);
    if (tooBig) return { ok: false, errors: [formatYamlProblem(display, tooBig)] };
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, errors: [`${display}: cannot read: ${(err as Error).message}`] };
  }
  // Within the YAML limits: an alias bomb or absurd nesting is a line of the report, never an exception.
  const yaml = parseYamlDocuments(text, limits, { merge: true });
  if (!yaml.ok) return { ok: false, errors: yaml.problems.map((p) => formatYamlProblem(display, p)) };
  if (yaml.documents.length !== 1) {
    return { ok: false, errors: [`${display}:1: a policy test file holds exactly one YAML document`] };
  }
  const counter = yaml.lineCounter;
  const { doc, value } = yaml.documents[0]!;
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) return { ok: false, errors: describeIssues(parsed.error.issues, doc, counter, display) };
  const cases = doc.get("cases", true);
  const testCases = parsed.data.cases.map((c, i) => {
    let line = 1;
    if (isSeq(cases)) {
      const node = cases.items[i];
      if (isMap(node) && node.range) line = counter.linePos(node.range[0]).line;
    }
    return { file: display, line, name: c.name, request: c.request, expect: c.expect };
  });
  return { ok: true, cases: testCases };
}
