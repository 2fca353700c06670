/**
 * Runs the example policy library's unit tests (*.test.yaml) as part of `npm test`: one vitest test per case,
 * decided against the whole library with the same code as live Checks (and `trustgate policy test`).
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatExplanation } from "../authz-server/src/policy-tools/explain.js";
import { runPolicyTests } from "../authz-server/src/policy-tools/run-policy-tests.js";

const here = dirname(fileURLToPath(import.meta.url));
const run = await runPolicyTests([here], { rootNamespace: "istio-system" });

describe("example policy library", () => {
  it("loads without errors and every test file parses", () => {
    expect(run.loadErrors).toEqual([]);
    expect(run.fileErrors).toEqual([]);
    expect(run.files.length).toBeGreaterThanOrEqual(5);
  });

  for (const result of run.results) {
    const where = `${relative(here, join(process.cwd(), result.testCase.file))}:${result.testCase.line}`;
    it(`${where} ${result.testCase.name}`, () => {
      expect(result.failures, formatExplanation(result.explanation)).toEqual([]);
    });
  }
});
