#!/usr/bin/env node
// trustgate command-line entry point: runs the compiled CLI (npm run build:server compiles it).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error("trustgate is not built yet: run `npm run build:server` (or `npm start`, which builds first).");
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
