#!/usr/bin/env node
// npm run bench:wasm — builds the modules, then runs bench.ts. The host is TypeScript test tooling,
// so this transpiles it (and the benchmark) to plain JS under .tmp/wasm-bench first (no type check;
// `npx tsc -p tsconfig.json --noEmit` covers that).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, ".tmp", "wasm-bench");

function transpileDir(relDir, keep) {
  for (const file of readdirSync(join(root, relDir))) {
    if (!file.endsWith(".ts") || file.endsWith(".d.ts") || !keep(file)) continue;
    const source = readFileSync(join(root, relDir, file), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    mkdirSync(join(out, relDir), { recursive: true });
    writeFileSync(join(out, relDir, file.replace(/\.ts$/, ".js")), outputText);
  }
}

transpileDir("test/proxy-wasm-host", (f) => !f.endsWith(".test.ts") && f !== "fixtures.ts");
transpileDir("wasm-filter/bench", (f) => f === "bench.ts");
writeFileSync(join(out, "package.json"), '{"type":"module"}\n');
const bench = await import(pathToFileURL(join(out, "wasm-filter", "bench", "bench.js")).href);
bench.run(root);
