/**
 * `npm run fuzz -- --seconds N [--seed S] [--concurrency C]`: a long differential fuzz run against real trustgate
 * processes; prints the counts and every failure, exits 1 on any failure. The seed defaults to the time, and is
 * printed, so any run can be repeated.
 */
import { formatReport, runFuzz } from "./harness.js";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

const seconds = Number(flag("seconds") ?? "60");
const seed = Number(flag("seed") ?? Date.now() % 2 ** 31);
const concurrency = Number(flag("concurrency") ?? "8");
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed) || !(concurrency >= 1)) {
  console.error("usage: npm run fuzz -- --seconds N [--seed S] [--concurrency C]");
  process.exit(2);
}
console.log(`fuzz: ${seconds} s, seed ${seed}, ${concurrency} cases in flight`);
const started = Date.now();
const report = await runFuzz({
  seed,
  seconds,
  concurrency,
  onProgress: (c, cases) =>
    process.stdout.write(
      `  ${((Date.now() - started) / 1000).toFixed(0)} s: ${cases} cases, ${c.requests} requests, ${c.allows} allows, ${c.denies} denies, failures ${c.crashes + c.hangs + c.badStatuses + c.forbiddenAllows}\n`,
    ),
});
console.log(formatReport(report));
process.exit(report.findings.length === 0 ? 0 : 1);
