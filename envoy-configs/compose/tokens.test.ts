/**
 * `npm run mesh:tokens`, run as a process against a temporary env file: it creates the admin and Falco tokens once,
 * keeps them (and everything else in the file) on later runs, and writes the file readable by its owner only.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { addTokens } from "./tokens.mjs";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "tokens.mjs");
let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(file: string) {
  const r = spawnSync(process.execPath, [SCRIPT, "--file", file], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tokensOf = (text: string) =>
  Object.fromEntries([...text.matchAll(/^(TRUSTGATE_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));

describe("mesh:tokens", () => {
  it("creates both tokens once, mode 0600, and keeps them on the next run", () => {
    dir = mkdtempSync(join(tmpdir(), "trustgate-tokens-"));
    const file = join(dir, ".env");
    const first = run(file);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("wrote TRUSTGATE_ADMIN_TOKEN and TRUSTGATE_FALCO_TOKEN");
    expect(first.stdout).toContain(`sed -n 's/^TRUSTGATE_ADMIN_TOKEN=//p' ${file}`);
    const tokens = tokensOf(readFileSync(file, "utf8"));
    expect(tokens.TRUSTGATE_ADMIN_TOKEN).toMatch(/^[0-9a-f]{48}$/);
    expect(tokens.TRUSTGATE_FALCO_TOKEN).toMatch(/^[0-9a-f]{48}$/);
    expect(tokens.TRUSTGATE_ADMIN_TOKEN).not.toBe(tokens.TRUSTGATE_FALCO_TOKEN);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = run(file);
    expect(second.stdout).toContain("nothing changed");
    expect(tokensOf(readFileSync(file, "utf8"))).toEqual(tokens);
  });

  it("adds only what is missing and keeps the rest of the file", () => {
    dir = mkdtempSync(join(tmpdir(), "trustgate-tokens-"));
    const file = join(dir, ".env");
    writeFileSync(file, "# mine\nTRUSTGATE_FALCO_TOKEN=chosen-by-me\nOTHER=1");
    expect(run(file).stdout).toContain("wrote TRUSTGATE_ADMIN_TOKEN to");
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("# mine\nTRUSTGATE_FALCO_TOKEN=chosen-by-me\nOTHER=1\nTRUSTGATE_ADMIN_TOKEN=")).toBe(true);
    expect(addTokens("TRUSTGATE_ADMIN_TOKEN=a\nexport TRUSTGATE_FALCO_TOKEN=b\n").added).toEqual([]);
    expect(addTokens("TRUSTGATE_ADMIN_TOKEN=\n", () => "x").added).toEqual([
      "TRUSTGATE_ADMIN_TOKEN",
      "TRUSTGATE_FALCO_TOKEN",
    ]);
  });
});
