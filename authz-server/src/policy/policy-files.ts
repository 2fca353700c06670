/**
 * Finding and parsing policy files: every `*.yaml`/`*.yml` under the given paths (directories are walked
 * recursively, in sorted order), except policy test files (`*.test.yaml`). Multi-document files are split; each
 * document keeps a line lookup so errors can point at the offending line.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Document, isCollection, isNode, type LineCounter } from "yaml";
import { DEFAULT_YAML_LIMITS, parseYamlDocuments, type YamlLimits } from "../util/safe-yaml.js";
import type { PathSegment, PolicyDocument } from "./compile-policy.js";
import type { PolicyLoadError } from "./compiled.js";

export function isPolicyTestFile(name: string): boolean {
  return /\.test\.ya?ml$/.test(name);
}

function isYaml(name: string): boolean {
  return /\.ya?ml$/.test(name) && !isPolicyTestFile(name);
}

/** Lists the YAML files under `paths` (files or directories), sorted, without test files. */
export async function listYamlFiles(
  paths: readonly string[],
  accept: (name: string) => boolean = isYaml,
): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string, explicit: boolean): Promise<void> {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      for (const entry of entries) {
        if (entry.startsWith(".")) continue;
        await walk(join(path, entry), false);
      }
    } else if (explicit || accept(path)) out.push(path);
  }
  for (const p of paths) await walk(p, false);
  return out;
}

function lineLookup(doc: Document, counter: LineCounter): (path: readonly PathSegment[]) => number {
  return (path) => {
    // Walk down as far as the path exists, so a missing field points at its parent.
    let node: unknown = doc.contents;
    let offset = (doc.contents as { range?: [number] } | null)?.range?.[0] ?? 0;
    for (const segment of path) {
      if (!isCollection(node)) break;
      const next = node.get(segment, true);
      if (!isNode(next)) {
        // A key without a usable value node: point at the key itself when we can find it.
        const pair = (node.items as Array<{ key?: { value?: unknown; range?: [number] } }>).find(
          (item) => item.key?.value === segment,
        );
        if (pair?.key?.range) offset = pair.key.range[0];
        break;
      }
      node = next;
      if (next.range) offset = next.range[0];
    }
    return counter.linePos(offset).line;
  };
}

export interface ParsedFile {
  readonly documents: PolicyDocument[];
  readonly errors: PolicyLoadError[];
}

/**
 * Parses YAML text into documents within `limits`; syntax errors and exceeded limits become load errors with their
 * line (never an exception).
 */
export function parsePolicyText(text: string, file: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): ParsedFile {
  const parsed = parseYamlDocuments(text, limits);
  if (!parsed.ok) {
    return {
      documents: [],
      errors: parsed.problems.map((p) => ({
        file,
        line: p.line,
        policy: "",
        rule: null,
        field: "",
        message: p.message,
      })),
    };
  }
  const counter = parsed.lineCounter;
  return {
    documents: parsed.documents.map(({ value, doc }) => ({ file, value, lineAt: lineLookup(doc, counter) })),
    errors: [],
  };
}
