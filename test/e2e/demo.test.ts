/**
 * `npm run demo` as a user runs it, minus the full build: the demo compiled with its own tsconfig (plain `node`, no
 * TypeScript loader at run time), run with stdout piped and COLUMNS=120 (as the README's excerpts were captured).
 * It must end by itself within a minute, exit 0 (every decision as the example policies intend), print the three
 * phases and a summary, wrap at 120 columns, print no colour codes, and print what the README shows. A signal stops
 * it at once, with every process it started.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../mesh/repo.js";

const OUT_DIR = join(REPO, ".tmp", "demo-test");
const WIDTH = 120;

function startDemo(): {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [join(OUT_DIR, "test", "demo", "demo.js")], {
    cwd: REPO,
    env: { ...process.env, COLUMNS: String(WIDTH) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    output.stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    output.stderr += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { child, output, exit };
}

/**
 * What may differ between two runs (times, timestamps, scores), and line wrapping, made equal. Also who denies order
 * while it is at critical risk: trustgate's DENY policy, or — once that sidecar's filter has polled the revocation
 * list, which races with the table — the sidecar itself. Both are the demo working.
 */
function normalise(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/\b\d+(\.\d+)? (ms|s)\b/g, "<n> $2")
    .replace(/score \d+(\.\d+)?/g, "score <n>")
    .replace(
      /DENY (istio-system\/deny-critical-runtime-risk: caller risk critical, highest alert critical \(Falco "Terminal shell in container" \(Critical, <time>\)\)|local\/revoked: peer identity "spiffe:\/\/cluster\.local\/ns\/services\/sa\/order" is revoked)/g,
      "DENY <order at critical risk>",
    )
    .trim();
}

/** The code blocks of the README's demo section that show demo output. */
function readmeExcerpts(): string[] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const start = readme.indexOf("## Demo: the whole chain on one machine");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  // ```text blocks are output; ```sh blocks are commands.
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === "text").map((m) => m[2]!);
}

beforeAll(() => {
  const tsc = spawnSync(
    process.execPath,
    [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "test/demo/tsconfig.json", "--outDir", OUT_DIR],
    { cwd: REPO, encoding: "utf8" },
  );
  expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
});

describe("npm run demo", () => {
  it("runs piped to the end within 60 s: phases, rows, the Falco deny, a summary, wrapped, no colours, as in the README", async () => {
    const started = Date.now();
    const demo = startDemo();
    const killer = setTimeout(() => demo.child.kill("SIGKILL"), 60_000);
    const code = await demo.exit;
    clearTimeout(killer);
    const seconds = (Date.now() - started) / 1000;
    console.info(`[e2e] demo finished in ${seconds.toFixed(1)} s`);
    const { stdout, stderr } = demo.output;

    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(seconds).toBeLessThan(60);
    for (const phase of [
      "== 1. normal traffic",
      "== 2. attack: Falco alert about order",
      "== 3. after the risk decays",
    ]) {
      expect(stdout).toContain(phase);
    }
    expect(stdout).toMatch(/^web +→ api +GET \/api\/products +ALLOW +services\/api-allow-web$/m);
    expect(stdout).toMatch(/^payment +→ web +GET \/ +DENY +trustgate\/default-deny: /m);
    expect(stdout).toMatch(
      /^order +→ payment +POST \/api\/v1\/payment\/42 +DENY +istio-system\/deny-critical-runtime-risk: /m,
    );
    expect(stdout.replace(/\s+/g, " ")).toMatch(/\(Falco "Terminal shell in container" \(Critical, \d{4}-[^)]*Z\)\)/);
    expect(stdout).toMatch(/^order +→ payment .*DENY +local\/revoked: /m);
    expect(stdout).toMatch(
      /^summary: 31 calls, \d+ allowed, \d+ denied, every decision as the example policies intend$/m,
    );
    expect(normalise(stdout)).toMatch(/Falco alert → first deny of order → payment: <n> ms \(trustgate's Check\)/);
    expect(stdout).not.toContain("\u001b[");

    // Wrapped at word boundaries to the width, continuing under the REASON column.
    const lines = stdout.split("\n");
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(WIDTH);
    expect(lines.some((l) => /^ {60}\S/.test(l))).toBe(true);
    // A deny that risk did not cause does not carry the risk text.
    const flat = normalise(stdout);
    const webToDatabase = flat.slice(flat.indexOf("web → database POST /query DENY"), flat.indexOf("api → order"));
    expect(webToDatabase).toContain("trustgate/default-deny: closest: data/database-allow-low-risk rule 0 failed on");
    expect(webToDatabase).not.toContain("caller risk");

    // Every README excerpt is what the demo prints today.
    const excerpts = readmeExcerpts();
    expect(excerpts.length).toBeGreaterThanOrEqual(4);
    for (const excerpt of excerpts) expect(normalise(stdout)).toContain(normalise(excerpt));
  }, 120_000);

  it("SIGTERM stops it at once, quietly, with every process it started", async () => {
    const demo = startDemo();
    const deadline = Date.now() + 45_000;
    while (!demo.output.stdout.includes("== 1. normal traffic") && Date.now() < deadline) {
      if (demo.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const pid = Number(/trustgate pid (\d+)/.exec(demo.output.stdout)?.[1]);
    expect(
      pid,
      `the demo did not reach its first section:\n${demo.output.stdout}\n${demo.output.stderr}`,
    ).toBeGreaterThan(0);
    const sent = Date.now();
    demo.child.kill("SIGTERM");
    const code = await demo.exit;
    const ms = Date.now() - sent;
    expect(code).toBe(143);
    expect(ms).toBeLessThan(5000);
    expect(demo.output.stdout.trimEnd().split("\n").at(-1)).toBe("demo: stopped by SIGTERM");
    expect(demo.output.stdout).not.toContain("demo failed");
    // trustgate (and the rest of the mesh) went with it.
    expect(() => process.kill(pid, 0)).toThrow();
  }, 90_000);
});
