// Module hooks that let a worker thread started by code under test run trustgate's TypeScript sources: relative
// `.js` imports from a `.ts` file resolve to the `.ts` file beside it, and `.ts` files are transpiled with the
// project's TypeScript (type-only, no checking). Output is cached on disk by content hash, so most workers never
// load the compiler. The built server (dist/) needs none of this.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cacheDir = join(tmpdir(), "trustgate-ts-worker-cache");
let ts = null;

export async function resolve(specifier, context, next) {
  if (specifier.endsWith(".js") && context.parentURL?.endsWith(".ts") && /^\.\.?\//.test(specifier)) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: "module", shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return next(url, context);
  const file = fileURLToPath(url);
  const source = readFileSync(file, "utf8");
  const key = createHash("sha256").update(file).update("\0").update(source).digest("hex");
  const cached = join(cacheDir, `${key}.js`);
  if (existsSync(cached)) return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true };
  ts ??= (await import("typescript")).default;
  const output = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${cached}.${process.pid}.tmp`, output);
  // Rename into place: another worker reading the same entry never sees it half-written.
  (await import("node:fs")).renameSync(`${cached}.${process.pid}.tmp`, cached);
  return { format: "module", source: output, shortCircuit: true };
}
