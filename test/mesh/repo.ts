/**
 * Where the repository's files are, found from this module's own location so the same code works from the
 * TypeScript sources (vitest) and from the compiled demo under .tmp/demo/.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name;
      if (name === "trustgate") return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the trustgate repository above ${start}`);
    dir = parent;
  }
}

export const REPO = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
export const TRUSTGATE_BIN = join(REPO, "authz-server", "bin", "trustgate.js");
export const TRUSTGATE_BUILT = join(REPO, "authz-server", "dist", "cli", "main.js");
export const FILTER_WASM = join(REPO, "wasm-filter", "build", "trustgate_filter.wasm");
export const DEMO_APP = join(REPO, "envoy-configs", "compose", "demo-app", "server.mjs");
export const POLICIES_DIR = join(REPO, "policies");
export const PKI_DIR = join(REPO, "test", "fixtures", "pki");

/** Fails early, with the command to run, when a build output the mesh needs is missing. */
export function requireBuildOutputs(): void {
  for (const [file, command] of [
    [TRUSTGATE_BUILT, "npm run build:server"],
    [FILTER_WASM, "npm run build:wasm"],
  ] as const) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`${command}\` (npm test and npm run demo do it)`);
  }
}
