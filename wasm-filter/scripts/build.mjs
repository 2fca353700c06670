#!/usr/bin/env node
// Builds the trustgate proxy-wasm filter with the AssemblyScript compiler from node_modules:
//   wasm-filter/build/trustgate_filter.wasm   the filter (optimised, what Envoy loads)
//   wasm-filter/build/noop.wasm               benchmark baseline with the same ABI surface
// Usage: node wasm-filter/scripts/build.mjs   (npm run build:wasm)
import { mkdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const filterDir = join(root, "wasm-filter");
const outDir = join(filterDir, "build");
const rel = (p) => relative(root, p);

// Flags shared by every module:
// - minimal runtime: no write barriers or shadow stack; the filter collects explicitly between callbacks
//   (see assembly/gc.ts);
// - abort routed to proxy_log, so the module never imports env.abort (Envoy does not provide it);
// - start function exported as _initialize, which Envoy calls after instantiation;
// - -O3 with shrink level 1: speed first, size well under the 40 KB budget; --noAssert drops assertion code.
const common = [
  "--runtime",
  "minimal",
  "--exportStart",
  "_initialize",
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "1",
  "--noAssert",
];

const modules = [
  {
    entry: join(filterDir, "assembly", "index.ts"),
    out: join(outDir, "trustgate_filter.wasm"),
    extra: ["--use", `abort=${rel(join(filterDir, "assembly", "abort"))}/onAbort`],
  },
  {
    entry: join(filterDir, "assembly", "fixtures", "noop.ts"),
    out: join(outDir, "noop.wasm"),
    extra: ["--use", `abort=${rel(join(filterDir, "assembly", "abort"))}/onAbort`],
  },
];

mkdirSync(outDir, { recursive: true });
let failed = false;
for (const m of modules) {
  const args = [rel(m.entry), ...m.extra, "-o", rel(m.out), ...common];
  const { error, stderr } = await asc.main(args, { baseDir: root });
  if (error) {
    failed = true;
    console.error(`build:wasm: ${rel(m.entry)} failed: ${error.message}\n${stderr.toString()}`);
    continue;
  }
  console.log(`build:wasm: ${rel(m.out)} ${statSync(m.out).size} bytes`);
}
process.exit(failed ? 1 : 0);
