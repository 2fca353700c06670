/**
 * The primary's side of the shared stdout (observability/shared-output.ts): before the primary writes a line too
 * long for one atomic write, every worker stops writing and says so; after it, they go on. A worker that does not
 * answer within HOLD_TIMEOUT_MS (stuck on a full pipe, or dying) is not waited for longer: the line is written then.
 */
import type { OutputGate } from "../observability/shared-output.js";
import type { ToWorker } from "./cluster-messages.js";

const HOLD_TIMEOUT_MS = 2_000;

export class WorkerOutputGate implements OutputGate {
  private readonly workers = new Map<number, (message: ToWorker) => void>();
  private readonly waiting = new Map<number, () => void>();
  private seq = 0;
  private holding = false;

  constructor(private readonly holdTimeoutMs = HOLD_TIMEOUT_MS) {}

  /** A worker writes to the shared stdout from now on. */
  attach(id: number, send: (message: ToWorker) => void): void {
    this.workers.set(id, send);
  }

  /** The worker is gone: nothing to wait for. */
  detach(id: number): void {
    this.workers.delete(id);
    this.answered(id, this.seq);
  }

  /** Whether a worker that starts now must start held. */
  get isHeld(): boolean {
    return this.holding;
  }

  /** The worker holds for hold number `seq`. */
  answered(id: number, seq: number): void {
    if (seq !== this.seq) return;
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.();
  }

  async acquire(): Promise<void> {
    this.holding = true;
    const seq = ++this.seq;
    const held = [...this.workers].map(
      ([id, send]) =>
        new Promise<void>((resolve) => {
          this.waiting.set(id, resolve);
          send({ t: "trustgate:output-hold", seq });
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.holdTimeoutMs);
    });
    await Promise.race([Promise.all(held), timeout]);
    clearTimeout(timer);
    this.waiting.clear();
  }

  release(): void {
    this.holding = false;
    for (const send of this.workers.values()) send({ t: "trustgate:output-release" });
  }
}
