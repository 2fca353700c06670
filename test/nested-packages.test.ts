// Folders that carry their own package.json (test/proxy-wasm-host) are packages only so they can be
// lifted out; inside this repository the root's `npm ci` is the one install. So the root declares no
// workspaces, and a nested package may only depend on what the root installs, at the same version.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", ".git", ".tmp", ".test-results", "dist", "build"]);

interface Manifest {
  private?: boolean;
  workspaces?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const read = (path: string): Manifest => JSON.parse(readFileSync(path, "utf8")) as Manifest;
const allDependencies = (m: Manifest): Record<string, string> => ({
  ...m.dependencies,
  ...m.devDependencies,
  ...m.peerDependencies,
  ...m.optionalDependencies,
});

function nestedManifests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (!e.isDirectory() || SKIP.has(e.name)) return [];
    const sub = join(dir, e.name);
    const here = existsSync(join(sub, "package.json")) ? [join(sub, "package.json")] : [];
    return [...here, ...nestedManifests(sub)];
  });
}

const root = read(join(ROOT, "package.json"));
const rootDependencies = allDependencies(root);
const nested = nestedManifests(ROOT);

test("the proxy-wasm host is a nested package; the root declares no workspaces", () => {
  expect(nested.map((p) => relative(ROOT, p))).toContain(join("test", "proxy-wasm-host", "package.json"));
  expect(root.workspaces).toBeUndefined();
});

test("nested packages are private and depend only on what the root installs, at the same versions", () => {
  const problems: string[] = [];
  for (const path of nested) {
    const where = relative(ROOT, path);
    const m = read(path);
    if (m.private !== true) problems.push(`${where}: not private`);
    if (m.workspaces !== undefined) problems.push(`${where}: declares workspaces`);
    for (const [name, version] of Object.entries(allDependencies(m))) {
      const pinned = rootDependencies[name];
      if (pinned === undefined) problems.push(`${where}: ${name} is not in the root package.json`);
      else if (pinned !== version) problems.push(`${where}: ${name} ${version}, the root pins ${pinned}`);
    }
  }
  expect(problems).toEqual([]);
});
