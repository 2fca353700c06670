/**
 * The server's side of the policy worker thread: starts it when first needed, sends one load at a time, gathers the
 * chunked answer, and turns every way the worker can fail (an exception, running out of memory, exiting, taking too
 * long) into load errors, so a reload can fail but never take the server down or hang it.
 */
import { Worker } from "node:worker_threads";
import type { CompileOptions } from "../policy/compile-policy.js";
import type { PolicyLoadError } from "../policy/compiled.js";
import type { LintContext, LintWarning } from "../policy-tools/lint.js";
import type { YamlLimits } from "../util/safe-yaml.js";
import type { LoadRequest, TransferredDocument, WorkerMessage } from "./policy-worker-protocol.js";

export type WorkerLoadResult =
  | {
      ok: true;
      documents: TransferredDocument[];
      digest: string;
      files: readonly string[];
      warnings: readonly LintWarning[];
      moreWarnings: Readonly<Record<string, number>>;
    }
  | { ok: false; errors: PolicyLoadError[] };

export interface PolicyWorkerOptions {
  /** Node options for the worker thread (tests running from TypeScript sources pass a loader here). */
  readonly execArgv?: readonly string[];
  /** A load that takes longer fails, and the worker is replaced. */
  readonly timeoutMs?: number;
  /** Size of one message from the worker, in JSON characters. */
  readonly chunkChars?: number;
  /**
   * An idle worker thread is ended after this long (a thread holds a whole JavaScript heap, some 15 MB, between
   * reloads that may be days apart); the next load starts a new one.
   */
  readonly idleMs?: number;
}

export interface LoadParameters {
  readonly paths: readonly string[];
  readonly rootNamespace: string;
  readonly limits: YamlLimits;
  readonly lint: LintContext;
  readonly compile?: CompileOptions;
  /** See LoadRequest.lowPriority. */
  readonly lowPriority?: boolean;
}

// Built files load the compiled worker; the TypeScript sources (tests) load its source.
const WORKER_ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./policy-worker.ts" : "./policy-worker.js",
  import.meta.url,
);

export class PolicyWorkerClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private pending: ((message: WorkerMessage | Error) => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: PolicyWorkerOptions = {}) {}

  load(parameters: LoadParameters): Promise<WorkerLoadResult> {
    if (this.pending) throw new Error("one policy load at a time");
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    const where = parameters.paths.join(", ");
    const failed = (message: string): WorkerLoadResult => ({
      ok: false,
      errors: [{ file: where, line: 0, policy: "", rule: null, field: "", message }],
    });
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const documents: TransferredDocument[] = [];
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    return new Promise<WorkerLoadResult>((resolve) => {
      const timer = setTimeout(() => {
        this.discard();
        finish(failed(`policy files were not read and checked within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const finish = (result: WorkerLoadResult) => {
        clearTimeout(timer);
        this.pending = null;
        this.armIdleTimer();
        resolve(result);
      };
      this.pending = (message) => {
        if (message instanceof Error) return finish(failed(`policy worker failed: ${message.message}`));
        if (message.id !== id) return;
        switch (message.type) {
          case "documents":
            for (const doc of message.documents) documents.push(doc);
            return;
          case "rules": {
            const last = documents.at(-1);
            const rules = (last?.value as { spec?: { rules?: unknown[] } } | undefined)?.spec?.rules;
            if (!last?.rulesFollow || !Array.isArray(rules)) {
              return finish(failed("policy worker sent rules without their policy"));
            }
            for (const rule of message.rules) rules.push(rule);
            return;
          }
          case "failed":
            return finish({ ok: false, errors: [...message.errors] });
          case "loaded":
            if (message.documents !== documents.length) {
              return finish(failed(`policy worker sent ${documents.length} of ${message.documents} documents`));
            }
            return finish({
              ok: true,
              documents,
              digest: message.digest,
              files: message.files,
              warnings: message.warnings,
              moreWarnings: message.moreWarnings,
            });
        }
      };
      const request: LoadRequest = {
        type: "load",
        id,
        paths: parameters.paths,
        rootNamespace: parameters.rootNamespace,
        limits: parameters.limits,
        lint: parameters.lint,
        compile: parameters.compile ?? {},
        lowPriority: parameters.lowPriority ?? false,
        chunkChars: this.options.chunkChars ?? 4 * 1024,
      };
      worker.postMessage(request);
    });
  }

  /**
   * Ends the worker thread once it has been idle for a while. Created here, not inside `load`: a callback made there
   * would share `load`'s closure scope, and the timer (kept in `idleTimer` until the next load) would keep every
   * document of the last load alive, about 9 MB of heap for 5,000 policies.
   */
  private armIdleTimer(): void {
    this.idleTimer = setTimeout(this.closeIfIdle, this.options.idleMs ?? 10_000);
    this.idleTimer.unref();
  }

  private readonly closeIfIdle = (): void => {
    this.idleTimer = null;
    if (this.pending === null) void this.close();
  };

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_ENTRY, {
      execArgv: this.options.execArgv ? [...this.options.execArgv] : undefined,
    });
    // The worker must not keep a finished CLI or test process alive; the server's listeners keep it running.
    worker.unref();
    // A discarded worker's last words are ignored: they must not answer a later load.
    worker.on("message", (message: WorkerMessage) => {
      if (this.worker === worker) this.pending?.(message);
    });
    worker.on("error", (err) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.pending?.(err);
    });
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.pending?.(new Error(`the worker thread exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  /** Drops a worker that is stuck; the next load starts a fresh one. */
  private discard(): void {
    const worker = this.worker;
    this.worker = null;
    if (worker) void worker.terminate();
  }
}
