/**
 * The policy worker thread: reads the policy files, parses them within the YAML limits, compiles them to find every
 * error with its line, lints the set, and sends the documents back in small chunks. The server compiles them again
 * on its own thread in short slices (compiled matchers cannot cross threads), so the expensive part of a reload —
 * reading and parsing YAML, and finding out whether it is valid — never runs on the event loop that answers Checks.
 */
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { compileDocuments, parsePolicySources, readPolicySources, sourceDigest } from "../policy/load-policy-set.js";
import { PolicySet } from "../policy/policy-set.js";
import { lintPolicySet } from "../policy-tools/lint.js";
import {
  LINT_WARNINGS_SENT,
  type LoadRequest,
  type TransferredDocument,
  type WorkerMessage,
} from "./policy-worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("policy-worker.ts runs as a worker thread");

let lowered = false;

/**
 * Linux keeps the nice value per thread: a lower priority for this thread leaves the Check thread ahead of it when
 * both want the same CPU. 15 (CFS weight 36 against the Check thread's 1024): with both on one CPU, Check p99 during
 * a reload of the largest allowed file went from 2.3× (nice 10) to 1.5× of p99 without one, and the reload from 4.8
 * to 7 s; nice 19 starves it (no reload of that file finished in 8 s). Even with the Check thread saturating its
 * CPU, this thread keeps about 3 % of it, so the largest file still loads well inside the worker's 120 s limit. It
 * cannot be raised again without privileges, so it is lowered once, from the first reload on. Elsewhere it would
 * renice the whole process, so it is left alone.
 */
function lowerPriority(): void {
  if (lowered || process.platform !== "linux") return;
  lowered = true;
  try {
    setPriority(15);
  } catch {
    // Not permitted here: parsing still runs off the Check thread, only without the lower priority.
  }
}

function send(message: WorkerMessage): void {
  port!.postMessage(message);
}

function rulesOf(value: unknown): unknown[] | null {
  if (typeof value !== "object" || value === null) return null;
  const spec = (value as { spec?: unknown }).spec;
  if (typeof spec !== "object" || spec === null) return null;
  const rules = (spec as { rules?: unknown }).rules;
  return Array.isArray(rules) ? rules : null;
}

/** Sends the documents in messages of about `chunkChars` JSON characters; a big document's rules go separately. */
function sendDocuments(id: number, documents: readonly TransferredDocument[], chunkChars: number): void {
  let batch: TransferredDocument[] = [];
  let batchChars = 0;
  const flush = () => {
    if (batch.length > 0) send({ type: "documents", id, documents: batch });
    batch = [];
    batchChars = 0;
  };
  for (const doc of documents) {
    const chars = JSON.stringify(doc.value).length;
    const rules = rulesOf(doc.value);
    if (chars <= chunkChars || rules === null) {
      if (batchChars + chars > chunkChars) flush();
      batch.push(doc);
      batchChars += chars;
      continue;
    }
    // Too big for one message: the document without its rules, then its rules in chunks.
    flush();
    const value = doc.value as { spec: Record<string, unknown> };
    const shell = { ...value, spec: { ...value.spec, rules: [] } };
    send({ type: "documents", id, documents: [{ ...doc, value: shell, rulesFollow: true }] });
    let chunk: unknown[] = [];
    let chunkSize = 0;
    for (const rule of rules) {
      const size = JSON.stringify(rule).length;
      if (chunk.length > 0 && chunkSize + size > chunkChars) {
        send({ type: "rules", id, rules: chunk });
        chunk = [];
        chunkSize = 0;
      }
      chunk.push(rule);
      chunkSize += size;
    }
    if (chunk.length > 0) send({ type: "rules", id, rules: chunk });
  }
  flush();
}

function countByCode(warnings: readonly { code: string }[]): Record<string, number> {
  const counts: Record<string, number> = Object.create(null);
  for (const w of warnings) counts[w.code] = (counts[w.code] ?? 0) + 1;
  return counts;
}

async function load(request: LoadRequest): Promise<void> {
  const { id } = request;
  if (request.lowPriority) lowerPriority();
  const read = await readPolicySources(request.paths, { rootNamespace: request.rootNamespace, limits: request.limits });
  const parsed = parsePolicySources(read.sources, request.limits);
  const compiled = compileDocuments(parsed.documents, request.compile);
  const errors = [...read.errors, ...parsed.errors, ...compiled.errors];
  if (errors.length > 0) {
    send({ type: "failed", id, errors });
    return;
  }
  const digest = sourceDigest(read.sources);
  const warnings = lintPolicySet(new PolicySet(compiled.policies, request.rootNamespace, digest), request.lint);
  const documents = parsed.documents.map((doc) => {
    const rules = rulesOf(doc.value);
    return {
      file: doc.file,
      value: doc.value,
      line: doc.lineAt([]),
      ruleLines: rules === null ? [] : rules.map((_, i) => doc.lineAt(["spec", "rules", i])),
      rulesFollow: false,
    };
  });
  sendDocuments(id, documents, request.chunkChars);
  send({
    type: "loaded",
    id,
    digest,
    files: read.sources.map((s) => s.file),
    documents: documents.length,
    warnings: warnings.slice(0, LINT_WARNINGS_SENT),
    moreWarnings: countByCode(warnings.slice(LINT_WARNINGS_SENT)),
  });
}

port.on("message", (request: LoadRequest) => {
  load(request).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    send({
      type: "failed",
      id: request.id,
      errors: [{ file: request.paths.join(", "), line: 0, policy: "", rule: null, field: "", message }],
    });
  });
});
