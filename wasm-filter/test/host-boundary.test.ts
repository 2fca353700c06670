// Only hostcalls.ts may call the host functions abi.ts imports: that is where every status is
// returned and nothing traps, so the rest of the filter cannot forget a check or pass a raw pointer
// pair by mistake. Enum and constant imports from abi.ts are fine anywhere.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, test } from "vitest";

const ASSEMBLY = join(dirname(fileURLToPath(import.meta.url)), "..", "assembly");
const ABI = join(ASSEMBLY, "abi.ts");
/** Files allowed to touch the imported host functions. */
const ALLOWED = new Set([ABI, join(ASSEMBLY, "hostcalls.ts")]);

/** Names of the functions abi.ts imports from the host (`@external(...) export declare function`). */
function hostFunctions(abiSource: string): Set<string> {
  return new Set(
    [...abiSource.matchAll(/@external\([^)]*\)\s*export\s+declare\s+function\s+(\w+)/g)].map((m) => m[1]!),
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every way `file` reaches a host function other than through hostcalls.ts. */
function violations(file: string, source: string, host: Set<string>): string[] {
  const found: string[] = [];
  if (/@external\s*\(/.test(source)) found.push("declares its own host import with @external");
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const fromAbi = (specifier: ts.Expression | undefined): boolean =>
    specifier !== undefined &&
    ts.isStringLiteral(specifier) &&
    resolve(dirname(file), specifier.text).replace(/(\.ts)?$/, ".ts") === ABI;
  const named = (elements: ts.NodeArray<ts.ImportSpecifier | ts.ExportSpecifier>): void => {
    for (const element of elements) {
      const name = (element.propertyName ?? element.name).text;
      if (host.has(name)) found.push(`imports the host function ${name}`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && fromAbi(node.moduleSpecifier)) {
      // `import "./abi"` binds nothing.
      const bindings = node.importClause?.namedBindings;
      if (bindings !== undefined && ts.isNamespaceImport(bindings)) {
        found.push(`imports abi.ts as a namespace (${bindings.name.text})`);
      } else if (bindings !== undefined) {
        named(bindings.elements);
      }
    } else if (ts.isExportDeclaration(node) && fromAbi(node.moduleSpecifier)) {
      const clause = node.exportClause;
      if (clause === undefined || ts.isNamespaceExport(clause)) found.push("re-exports all of abi.ts");
      else named(clause.elements);
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return found.map((v) => `${relative(ASSEMBLY, file)}: ${v}`);
}

const host = hostFunctions(readFileSync(ABI, "utf8"));

test("abi.ts declares the host functions the check looks for", () => {
  expect(host.size).toBeGreaterThanOrEqual(15);
  expect(host).toContain("proxy_log");
  expect(host).toContain("proxy_send_local_response");
});

test("no file but hostcalls.ts imports a host function from abi.ts", () => {
  const files = sourceFiles(ASSEMBLY).filter((f) => !ALLOWED.has(f));
  expect(files.map((f) => relative(ASSEMBLY, f))).toContain("index.ts");
  expect(files.flatMap((f) => violations(f, readFileSync(f, "utf8"), host))).toEqual([]);
});

test("the check catches a direct host call, a namespace import, a re-export and an own @external", () => {
  const file = join(ASSEMBLY, "fixtures", "example.ts");
  const source = [
    'import { LogLevel, proxy_log as raw } from "../abi";',
    'import * as abi from "../abi.ts";',
    'export { proxy_http_call } from "../abi";',
    'export * from "../abi";',
    '@external("env", "proxy_log") declare function own(level: i32, ptr: usize, len: usize): i32;',
  ].join("\n");
  expect(violations(file, source, host)).toEqual([
    "fixtures/example.ts: declares its own host import with @external",
    "fixtures/example.ts: imports the host function proxy_log",
    "fixtures/example.ts: imports abi.ts as a namespace (abi)",
    "fixtures/example.ts: imports the host function proxy_http_call",
    "fixtures/example.ts: re-exports all of abi.ts",
  ]);
  expect(violations(file, 'import { LogLevel, Status } from "../abi";\nimport "../abi";', host)).toEqual([]);
});
