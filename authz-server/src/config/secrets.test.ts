import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSecret } from "./secrets.js";

describe("readSecret", () => {
  it("trims an inline value as it trims a file, so a whitespace-only value is no secret at all", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-secret-"));
    try {
      const file = join(dir, "token");
      await writeFile(file, "s3cret\n");
      expect(await readSecret("", file, "t")).toBe("s3cret");
      expect(await readSecret("s3cret\n", "", "t")).toBe("s3cret");
      expect(await readSecret(" \n\t", "", "t")).toBe("");
      await writeFile(file, "\n");
      expect(await readSecret("ignored", file, "t")).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
