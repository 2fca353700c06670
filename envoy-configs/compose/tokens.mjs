#!/usr/bin/env node
// Creates the local mesh's secrets in an env file (default: .env at the repository root, which docker compose reads
// by itself and .gitignore/.dockerignore keep out of git and images):
//   TRUSTGATE_ADMIN_TOKEN   operator endpoints (revocations, risk clears, explain) — docker-compose.yml requires it
//   TRUSTGATE_FALCO_TOKEN   Falco ingest, shared with Falcosidekick
// Values already in the file are kept, so running it again changes nothing. Usage:
//   npm run mesh:tokens [-- --file <path>]
// Read a token back with: sed -n 's/^TRUSTGATE_ADMIN_TOKEN=//p' .env
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NAMES = ["TRUSTGATE_ADMIN_TOKEN", "TRUSTGATE_FALCO_TOKEN"];

/** 48 hex characters: no ':' or ',' (Falcosidekick's header syntax), no quoting needed in an env file. */
export function newToken() {
  return randomBytes(24).toString("hex");
}

/** Adds the missing tokens to the env file's text; returns the new text and the names it added. */
export function addTokens(text, make = newToken) {
  const present = new Set(
    text
      .split("\n")
      .map((line) => /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\S/.exec(line)?.[1])
      .filter(Boolean),
  );
  const added = NAMES.filter((name) => !present.has(name));
  const lines = added.map((name) => `${name}=${make()}`);
  const base = text === "" || text.endsWith("\n") ? text : `${text}\n`;
  return { text: lines.length === 0 ? text : `${base}${lines.join("\n")}\n`, added };
}

function main(argv) {
  const at = argv.indexOf("--file");
  const file = at >= 0 ? argv[at + 1] : join(root, ".env");
  if (!file) {
    console.error("tokens: --file needs a path");
    return 2;
  }
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  const { text, added } = addTokens(before);
  if (added.length > 0) writeFileSync(file, text, { mode: 0o600 });
  if (existsSync(file)) chmodSync(file, 0o600);
  const rel = relative(process.cwd(), file);
  const shown = rel === "" || rel.startsWith("..") ? file : rel;
  console.log(
    added.length > 0
      ? `tokens: wrote ${added.join(" and ")} to ${shown}`
      : `tokens: ${shown} already has ${NAMES.join(" and ")}; nothing changed`,
  );
  console.log(`tokens: read the admin token with: sed -n 's/^TRUSTGATE_ADMIN_TOKEN=//p' ${shown}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = main(process.argv.slice(2));
