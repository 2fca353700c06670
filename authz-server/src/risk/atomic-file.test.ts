import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AtomicFile } from "./atomic-file.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("AtomicFile", () => {
  it("serialises writes asked for at once: each completes, the last one asked for is the content", async () => {
    const file = new AtomicFile(join(dir, "risk.json"));
    const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: "x".repeat(50_000) }));
    // A final save and an interval save racing: before, both wrote `<file>.tmp-<pid>` and one rename failed.
    await Promise.all(bodies.map((b) => file.write(b)));
    expect(JSON.parse(await readFile(join(dir, "risk.json"), "utf8")).i).toBe(19);
    expect(await readdir(dir)).toEqual(["risk.json"]);
  });

  it("a failed write does not block the next one", async () => {
    const file = new AtomicFile(join(dir, "missing-dir", "risk.json"));
    await expect(file.write("{}")).rejects.toThrow(/ENOENT/);
    const ok = new AtomicFile(join(dir, "risk.json"));
    await ok.write("{}");
    await expect(file.write("{}")).rejects.toThrow(/ENOENT/);
  });

  it("removes temporary files of dead processes and of this pid's earlier life, keeps live writers' ones", async () => {
    const dead = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ["-e", ""]);
      child.on("exit", () => resolve(child.pid!));
    });
    const names = [
      `risk.json.tmp-${dead}`, // the old naming, left by kill -9
      `risk.json.tmp-${dead}-3`,
      `risk.json.tmp-${process.pid}-1`,
      `risk.json.tmp-${process.ppid}-1`, // a live process: not ours to delete
      "risk.json.tmp-notapid",
      "other.json.tmp-1",
      "risk.json",
    ];
    for (const n of names) await writeFile(join(dir, n), "{");
    const removed = await new AtomicFile(join(dir, "risk.json")).removeStaleTemporaries();
    expect(removed.sort()).toEqual(
      [`risk.json.tmp-${dead}`, `risk.json.tmp-${dead}-3`, `risk.json.tmp-${process.pid}-1`].sort(),
    );
    expect((await readdir(dir)).sort()).toEqual(
      [`risk.json.tmp-${process.ppid}-1`, "risk.json.tmp-notapid", "other.json.tmp-1", "risk.json"].sort(),
    );
  });
});
