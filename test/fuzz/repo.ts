/** The repository root, from the sources (vitest) or from the compiled copy under .tmp/ (`npm run fuzz`). */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export function repoRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "authz-server", "bin", "trustgate.js"))) return dir;
    if (dirname(dir) === dir) throw new Error("cannot find the repository root above the fuzzer");
  }
}
