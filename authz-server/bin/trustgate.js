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
const code = await run(process.argv);
// Exit as soon as the command is done (for serve: once shutdown has finished in-flight work): a client's idle
// keep-alive socket or a library's timer must not hold a finished command, or a stopped server, open. Output is
// flushed first; pino flushes its own buffer on exit.
process.exitCode = code;
await new Promise((resolve) => process.stdout.write("", resolve));
await new Promise((resolve) => process.stderr.write("", resolve));
process.exit(code);
