/**
 * Policy unit test files (`*.test.yaml` beside the policies): a list of cases, each a request description and the
 * expected decision (and optionally the deciding policy, rule, or a reason fragment).
 */
import { readFile, stat } from "node:fs/promises";
import { isMap, isSeq } from "yaml";
import { z } from "zod";
import { formatIssue } from "../util/format-issues.js";
import {
  DEFAULT_YAML_LIMITS,
  formatYamlProblem,
  parseYamlDocuments,
  sizeProblem,
  type YamlLimits,
} from "../util/safe-yaml.js";
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

export type TestFileResult = { ok: true; cases: TestCase[] } | { ok: false; error: string };

export async function readTestFile(
  file: string,
  display = file,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): Promise<TestFileResult> {
  let text: string;
  try {
    const tooBig = sizeProblem((await stat(file)).size, limits);
    if (tooBig) return { ok: false, error: formatYamlProblem(display, tooBig) };
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, error: `${display}: cannot read: ${(err as Error).message}` };
  }
  const yaml = parseYamlDocuments(text, limits, { merge: true });
  if (!yaml.ok) return { ok: false, error: formatYamlProblem(display, yaml.problems[0]!) };
  if (yaml.documents.length !== 1) {
    return { ok: false, error: `${display}:1: a policy test file holds exactly one YAML document` };
  }
  const counter = yaml.lineCounter;
  const { doc, value } = yaml.documents[0]!;
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number] } | undefined;
    const line = node?.range ? counter.linePos(node.range[0]).line : 1;
    return { ok: false, error: `${display}:${line}: ${formatIssue(issue)}` };
  }
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
