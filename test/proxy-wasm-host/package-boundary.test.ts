// This folder is a package of its own (package.json beside this file): it can be copied out and
// used elsewhere without edits. So no file may import anything outside the folder, every package it
// imports must be declared in its package.json (pinned exactly), and node builtins use `node:`.
import { readdirSync, readFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, test } from "vitest";

const HERE = dirname(fileURLToPath(import.meta.url));

interface Manifest {
  name?: string;
  private?: boolean;
  type?: string;
  exports?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")) as Manifest;
const declared: Record<string, string> = {
  ...manifest.dependencies,
  ...manifest.devDependencies,
  ...manifest.peerDependencies,
  ...manifest.optionalDependencies,
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === "node_modules") return [];
    if (e.isDirectory()) return tsFiles(join(dir, e.name));
    return e.name.endsWith(".ts") ? [join(dir, e.name)] : [];
  });
}

/** "@scope/name/sub" → "@scope/name", "name/sub" → "name". */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Every module a file names: imports, re-exports, dynamic import(), require(), import types, `///` references. */
function moduleReferences(
  file: string,
  source: string,
): Array<{ specifier: string; kind: "module" | "path" | "types" }> {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Array<{ specifier: string; kind: "module" | "path" | "types" }> = [];
  const literal = (node: ts.Node | undefined): void => {
    if (node === undefined) return;
    // A computed specifier cannot be checked, so it counts as leaving the folder.
    found.push({
      specifier: ts.isStringLiteralLike(node) ? node.text : `<computed: ${node.getText(sf)}>`,
      kind: "module",
    });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      literal(node.moduleReference.expression);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isImport || isRequire) literal(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      literal(node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  for (const ref of sf.referencedFiles) found.push({ specifier: ref.fileName, kind: "path" });
  for (const ref of sf.typeReferenceDirectives) found.push({ specifier: ref.fileName, kind: "types" });
  return found;
}

/** What is wrong with the modules `file` (in `dir`) names; empty when it stays inside the package (its own name included). */
function boundaryViolations(dir: string, file: string, source: string, deps: Record<string, string>): string[] {
  const where = relative(dir, file);
  const problems: string[] = [];
  for (const { specifier, kind } of moduleReferences(file, source)) {
    if (kind === "types") {
      if (!(`@types/${specifier}` in deps))
        problems.push(`${where}: types "${specifier}" but @types/${specifier} is not declared`);
    } else if (kind === "path" || specifier.startsWith("./") || specifier.startsWith("../")) {
      const target = relative(dir, resolve(dirname(file), specifier));
      if (target.startsWith("..") || isAbsolute(target)) problems.push(`${where}: "${specifier}" leaves the package`);
    } else if (specifier.startsWith("node:")) {
      if (!isBuiltin(specifier)) problems.push(`${where}: "${specifier}" is not a node builtin`);
      else if (!("@types/node" in deps)) problems.push(`${where}: "${specifier}" but @types/node is not declared`);
    } else if (isBuiltin(specifier)) {
      problems.push(`${where}: "${specifier}" should be "node:${specifier}"`);
    } else if (
      specifier.startsWith("<computed") ||
      specifier.startsWith("/") ||
      /^[a-z][a-z0-9+.-]*:/i.test(specifier)
    ) {
      problems.push(
        `${where}: ${specifier.startsWith("<") ? specifier : `"${specifier}"`} is not a package or a relative path`,
      );
    } else if (packageName(specifier) !== manifest.name && !(packageName(specifier) in deps)) {
      problems.push(`${where}: "${specifier}" but ${packageName(specifier)} is not in package.json`);
    }
  }
  return problems;
}

test("no file imports anything outside this folder or a package its package.json does not declare", () => {
  const files = tsFiles(HERE);
  expect(files.map((f) => relative(HERE, f))).toEqual(expect.arrayContaining(["index.ts", "host.ts", "fixtures.ts"]));
  expect(files.flatMap((f) => boundaryViolations(HERE, f, readFileSync(f, "utf8"), declared))).toEqual([]);
});

test("package.json: private ES module, exports the entry point, every dependency pinned to an exact version", () => {
  expect(manifest.name).toBe("@trustgate/proxy-wasm-host");
  expect(manifest.private).toBe(true);
  // The sources use import.meta and ESM imports: without "type": "module" TypeScript (NodeNext) and
  // Node would treat every file here as CommonJS.
  expect(manifest.type).toBe("module");
  expect(manifest.exports).toEqual({ ".": "./index.ts" });
  expect(tsFiles(HERE).map((f) => relative(HERE, f))).toContain("index.ts");
  for (const [name, version] of Object.entries(declared)) {
    expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  }
});

test("the check catches imports that leave the folder or name undeclared packages", () => {
  const file = join(HERE, "sub", "example.ts");
  const source = [
    '/// <reference path="../../z.d.ts" />', // triple-slash directives only count at the top
    '/// <reference types="jest" />',
    'import { a } from "../../mesh/x.js";', // outside
    'import { b } from "../index.js";', // inside: fine
    'import type { C } from "lodash/fp";', // undeclared
    'import { d } from "@scope/pkg/deep";', // undeclared scoped
    'import { readFileSync } from "fs";', // builtin without node:
    'import { e } from "node:nope";', // not a builtin
    'export * from "/etc/x.js";', // absolute
    'const f = await import("ajv");', // dynamic, undeclared
    "const g = await import(name);", // computed
    'const h = require("../../../package.json");', // require outside
    'type I = import("../../y.js").T;', // import type outside
  ].join("\n");
  const deps = { vitest: "4.1.12" };
  expect(boundaryViolations(HERE, file, source, deps)).toEqual([
    'sub/example.ts: "../../mesh/x.js" leaves the package',
    'sub/example.ts: "lodash/fp" but lodash is not in package.json',
    'sub/example.ts: "@scope/pkg/deep" but @scope/pkg is not in package.json',
    'sub/example.ts: "fs" should be "node:fs"',
    'sub/example.ts: "node:nope" is not a node builtin',
    'sub/example.ts: "/etc/x.js" is not a package or a relative path',
    'sub/example.ts: "ajv" but ajv is not in package.json',
    "sub/example.ts: <computed: name> is not a package or a relative path",
    'sub/example.ts: "../../../package.json" leaves the package',
    'sub/example.ts: "../../y.js" leaves the package',
    'sub/example.ts: "../../z.d.ts" leaves the package',
    'sub/example.ts: types "jest" but @types/jest is not declared',
  ]);
  expect(boundaryViolations(HERE, file, 'import { x } from "node:fs";', deps)).toEqual([
    'sub/example.ts: "node:fs" but @types/node is not declared',
  ]);
  const fine = [
    'import { expect } from "vitest";',
    'import { y } from "./z.js";',
    'import { z } from "@trustgate/proxy-wasm-host";',
  ];
  expect(boundaryViolations(HERE, file, fine.join("\n"), deps)).toEqual([]);
});
