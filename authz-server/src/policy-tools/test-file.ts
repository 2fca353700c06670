/**
 * Policy unit test files (`*.test.yaml` beside the policies): a list of cases, each a request description and the
 * expected decision (and optionally the deciding policy, rule, or a reason fragment).
 */
import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { formatIssue } from "../util/format-issues.js";
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

export async function readTestFile(file: string, display = file): Promise<TestFileResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, error: `${display}: cannot read: ${(err as Error).message}` };
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    return {
      ok: false,
      error: `${display}:${counter.linePos(e.pos[0]).line}: YAML syntax error: ${e.message.split("\n")[0]}`,
    };
  }
  const parsed = fileSchema.safeParse(doc.toJS({ maxAliasCount: 1000 }));
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
