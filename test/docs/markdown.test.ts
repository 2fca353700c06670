/**
 * Every README passes the markdown lint (`npm run lint:markdown`, configured in .markdownlint-cli2.jsonc): tables with
 * the right number of cells, code spans set apart from words, fenced blocks with a language, prose within 120
 * columns. The lint itself is checked too: it must catch a table row split by an unescaped `|` and a code span glued
 * to a word, the defects that broke envoy-configs/README.md.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../mesh/repo.js";

const BIN = join(REPO, "node_modules", "markdownlint-cli2", "markdownlint-cli2-bin.mjs");

function lint(args: string[], cwd = REPO) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("markdown", () => {
  it("every README passes the lint", () => {
    const r = lint([]);
    expect(r.output).toContain("Summary: 0 error(s)");
    expect(r.code, r.output).toBe(0);
  });

  it("the lint catches a split table row and a code span glued to a word", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-md-"));
    try {
      writeFileSync(
        join(dir, "bad.md"),
        [
          "# Bad",
          "",
          "| what | how |",
          "| --- | --- |",
          "| names | Istio's `outbound|port||host` |",
          "",
          "The `.wasm`path, and every principal in`policies/`.",
          "",
        ].join("\n"),
      );
      const r = lint(["--config", join(REPO, ".markdownlint-cli2.jsonc"), "bad.md"], dir);
      expect(r.code).toBe(1);
      expect(r.output).toMatch(/bad\.md:5:\d+ error MD056\/table-column-count/);
      expect(r.output).toMatch(/bad\.md:7 error code-span-spacing .*"`\.wasm`p"/);
      expect(r.output).toMatch(/bad\.md:7 error code-span-spacing .*"n`policies\/`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
