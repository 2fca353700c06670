/**
 * `npm run demo` as a user runs it, minus the full build: the demo compiled with its own tsconfig (plain `node`, no
 * TypeScript loader at run time), run with stdout piped. It must end by itself within a minute, exit 0 (every
 * decision as the example policies intend), print the three phases and a summary, and print no colour codes.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../mesh/repo.js";

const OUT_DIR = join(REPO, ".tmp", "demo-test");

describe("npm run demo", () => {
  it("runs piped to the end within 60 s: phases, per-call rows, the Falco deny, a summary, no colours", async () => {
    const tsc = spawnSync(
      process.execPath,
      [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "test/demo/tsconfig.json", "--outDir", OUT_DIR],
      { cwd: REPO, encoding: "utf8" },
    );
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);

    const started = Date.now();
    const child = spawn(process.execPath, [join(OUT_DIR, "test", "demo", "demo.js")], {
      cwd: REPO,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    clearTimeout(killer);
    const seconds = (Date.now() - started) / 1000;
    console.info(`[e2e] demo finished in ${seconds.toFixed(1)} s`);

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
      /^order +→ payment +POST \/api\/v1\/payment\/42 +DENY +istio-system\/deny-critical-runtime-risk: .*Falco "Terminal shell in container" \(Critical, /m,
    );
    expect(stdout).toMatch(/^order +→ payment .*DENY +local\/revoked: /m);
    expect(stdout).toMatch(
      /^summary: 31 calls, \d+ allowed, \d+ denied, every decision as the example policies intend$/m,
    );
    expect(stdout).toMatch(/Falco alert → first deny of order → payment: \d+ ms \(trustgate's Check\)/);
    expect(stdout).not.toContain("\u001b[");
  }, 120_000);
});
