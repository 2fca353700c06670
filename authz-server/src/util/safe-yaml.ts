/**
 * YAML from users, parsed within explicit limits: file size, number of documents, nesting depth, alias count and how
 * much aliases expand. A file over a limit is refused with the line that crossed it; nothing the parser or the
 * conversion to plain values throws escapes (a YAML "billion laughs" of nested aliases, an alias inside its own
 * anchor, nesting deep enough to exhaust the stack): every failure is a problem with a line.
 */
import {
  type Document,
  isAlias,
  isCollection,
  isPair,
  isScalar,
  LineCounter,
  type Node,
  parseAllDocuments,
} from "yaml";

export interface YamlLimits {
  /** Largest file, in bytes (UTF-8). */
  readonly maxFileBytes: number;
  /** Most documents (`---`) in one file. */
  readonly maxDocuments: number;
  /** Deepest nesting of maps and lists, counted after aliases are expanded. */
  readonly maxDepth: number;
  /** Most alias nodes (`*name`) in one file. */
  readonly maxAliases: number;
  /** Most nodes that aliases may add to one file when expanded (what a reader of the values walks). */
  readonly maxAliasExpansion: number;
}

/** Policy files are Kubernetes objects in most deployments, and a ConfigMap holds at most 1 MiB. */
export const DEFAULT_YAML_LIMITS: YamlLimits = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxDocuments: 10_000,
  maxDepth: 64,
  maxAliases: 1000,
  maxAliasExpansion: 100_000,
});

export interface YamlProblem {
  /** 1-based line; 1 when the problem is about the whole file. */
  readonly line: number;
  readonly message: string;
}

export interface YamlDocument {
  /** The document's plain value (maps → objects, sequences → arrays). */
  readonly value: unknown;
  /** The parsed document, for line lookups. */
  readonly doc: Document;
}

export type YamlDocumentsResult =
  | { ok: true; documents: YamlDocument[]; lineCounter: LineCounter }
  | { ok: false; problems: YamlProblem[] };

export type YamlValueResult = { ok: true; value: unknown } | { ok: false; problem: YamlProblem };

export interface YamlOptions {
  /** `<<` merge keys (YAML 1.1), used by policy test files. */
  readonly merge?: boolean;
}

class LimitExceeded extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** Whether the text is within the size limit; the message names the limit to raise. */
export function sizeProblem(bytes: number, limits: YamlLimits): YamlProblem | null {
  if (bytes <= limits.maxFileBytes) return null;
  return {
    line: 1,
    message: `file is ${bytes} bytes, more than the limit of ${limits.maxFileBytes} (yaml.maxFileBytes)`,
  };
}

interface Measure {
  readonly nodes: number;
  readonly height: number;
}

/**
 * Walks one document in order, resolving aliases the way YAML does (the last anchor of that name before the alias),
 * and throws LimitExceeded at the first node over a limit. Anchored nodes are measured once.
 */
class DocumentMeter {
  private readonly anchors = new Map<string, Node>();
  private readonly measured = new Map<Node, Measure>();
  private readonly open = new Set<Node>();

  constructor(
    private readonly limits: YamlLimits,
    private readonly totals: { aliases: number; expansion: number },
  ) {}

  measure(node: unknown, depth: number): Measure {
    if (node === null || node === undefined) return { nodes: 0, height: 0 };
    if (isAlias(node)) return this.alias(node as Node & { source: string }, depth);
    const n = node as Node;
    const offset = n.range?.[0] ?? 0;
    if (depth > this.limits.maxDepth) {
      throw new LimitExceeded(offset, `nesting deeper than ${this.limits.maxDepth} levels (yaml.maxDepth)`);
    }
    if (n.anchor) this.anchors.set(n.anchor, n);
    if (isScalar(n) || !isCollection(n)) {
      const result = { nodes: 1, height: 0 };
      if (n.anchor) this.measured.set(n, result);
      return result;
    }
    this.open.add(n);
    let nodes = 1;
    let height = 0;
    for (const item of n.items) {
      const parts = isPair(item) ? [item.key, item.value] : [item];
      for (const part of parts) {
        const m = this.measure(part, depth + 1);
        nodes += m.nodes;
        if (m.height + 1 > height) height = m.height + 1;
      }
    }
    this.open.delete(n);
    const result = { nodes, height };
    if (n.anchor) this.measured.set(n, result);
    return result;
  }

  private alias(alias: Node & { source: string }, depth: number): Measure {
    const offset = alias.range?.[0] ?? 0;
    this.totals.aliases += 1;
    if (this.totals.aliases > this.limits.maxAliases) {
      throw new LimitExceeded(offset, `more than ${this.limits.maxAliases} aliases (yaml.maxAliases)`);
    }
    const target = this.anchors.get(alias.source);
    if (target === undefined) throw new LimitExceeded(offset, `alias *${alias.source} has no anchor before it`);
    if (this.open.has(target)) {
      throw new LimitExceeded(offset, `alias *${alias.source} refers to a node that contains it`);
    }
    const m = this.measured.get(target);
    if (m === undefined) throw new LimitExceeded(offset, `alias *${alias.source} could not be resolved`);
    this.totals.expansion += m.nodes;
    if (this.totals.expansion > this.limits.maxAliasExpansion) {
      throw new LimitExceeded(
        offset,
        `aliases expand to more than ${this.limits.maxAliasExpansion} nodes (yaml.maxAliasExpansion)`,
      );
    }
    if (depth + m.height > this.limits.maxDepth) {
      throw new LimitExceeded(offset, `nesting deeper than ${this.limits.maxDepth} levels (yaml.maxDepth)`);
    }
    return m;
  }
}

/** Parses every document of `text` within `limits`. A file without any document has none (not one null). */
export function parseYamlDocuments(text: string, limits: YamlLimits, options: YamlOptions = {}): YamlDocumentsResult {
  const size = sizeProblem(Buffer.byteLength(text, "utf8"), limits);
  if (size) return { ok: false, problems: [size] };
  const lineCounter = new LineCounter();
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  try {
    const parsed = parseAllDocuments(text, {
      lineCounter,
      uniqueKeys: true,
      prettyErrors: false,
      merge: options.merge ?? false,
    });
    const docs = Array.isArray(parsed) ? parsed : [parsed];
    const problems: YamlProblem[] = [];
    if (docs.length > limits.maxDocuments) {
      const extra = docs[limits.maxDocuments]!;
      return {
        ok: false,
        problems: [
          {
            line: lineOf(extra.range[0]),
            message: `more than ${limits.maxDocuments} documents (yaml.maxDocuments)`,
          },
        ],
      };
    }
    const totals = { aliases: 0, expansion: 0 };
    const documents: YamlDocument[] = [];
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors)
          problems.push({ line: lineOf(e.pos[0]), message: `YAML syntax error: ${firstLine(e.message)}` });
        continue;
      }
      if (doc.contents === null) continue;
      try {
        new DocumentMeter(limits, totals).measure(doc.contents, 1);
      } catch (err) {
        if (!(err instanceof LimitExceeded)) throw err;
        problems.push({ line: lineOf(err.offset), message: err.message });
        return { ok: false, problems };
      }
      // Expansion is bounded above, so yaml's own (differently counted) alias limit is switched off.
      documents.push({ value: doc.toJS({ maxAliasCount: -1 }), doc });
    }
    if (problems.length > 0) return { ok: false, problems };
    return { ok: true, documents, lineCounter };
  } catch (err) {
    // Anything else the parser or the conversion throws (stack exhaustion on absurd input, a bug): refuse the file.
    return {
      ok: false,
      problems: [{ line: 1, message: `YAML could not be read: ${firstLine((err as Error).message)}` }],
    };
  }
}

/** Parses a file that holds one value (configuration, inventory, a request description); empty text is null. */
export function parseYamlValue(text: string, limits: YamlLimits, options: YamlOptions = {}): YamlValueResult {
  const parsed = parseYamlDocuments(text, limits, options);
  if (!parsed.ok) return { ok: false, problem: parsed.problems[0]! };
  if (parsed.documents.length > 1) {
    const second = parsed.documents[1]!.doc;
    return {
      ok: false,
      problem: { line: parsed.lineCounter.linePos(second.range?.[0] ?? 0).line, message: "expected one YAML document" },
    };
  }
  return { ok: true, value: parsed.documents[0]?.value ?? null };
}

/** `file:line: message`, the one way YAML problems are shown. */
export function formatYamlProblem(file: string, problem: YamlProblem): string {
  return `${file}:${problem.line}: ${problem.message}`;
}
