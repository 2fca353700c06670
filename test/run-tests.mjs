#!/usr/bin/env node
// Runs the whole vitest suite and ends with the one-line summary CI looks for:
// "tests: N passed, M failed". Extra arguments are passed to vitest (e.g. a file filter).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, ".test-results");
const outFile = join(outDir, "vitest.json");
mkdirSync(outDir, { recursive: true });
rmSync(outFile, { force: true });

const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const args = [
  vitest,
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${outFile}`,
  ...process.argv.slice(2),
];
const run = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });

let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(outFile, "utf8"));
  passed = report.numPassedTests ?? 0;
  // A file that fails to load (no failed test in it, yet failed) counts as one failure, so it can never hide; a
  // describe block around failed tests does not count again.
  const brokenFiles = (report.testResults ?? []).filter(
    (file) => file.status === "failed" && !(file.assertionResults ?? []).some((t) => t.status === "failed"),
  ).length;
  failed = (report.numFailedTests ?? 0) + brokenFiles;
} catch (err) {
  console.error(`could not read the vitest report at ${outFile}: ${err.message}`);
  failed = Math.max(failed, 1);
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && run.status === 0 ? 0 : 1);
