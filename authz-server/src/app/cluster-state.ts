/**
 * The primary's side of the state channels (cluster-messages.ts): one place that knows the current snapshot of every
 * channel and every worker to keep in step. A new worker gets every snapshot before any event; events are batched per
 * event-loop turn (one message per worker per turn, however many alerts arrived in it) and reach every worker in the
 * order they were applied here. Workers acknowledge what they applied, so that an operator call (an alert ingested,
 * a revocation) can answer once every worker decides with it (`settled`).
 */
import type { ChannelName, StateChannels, ToWorker } from "./cluster-messages.js";

export interface StateTarget {
  send(message: ToWorker): void;
}

interface Waiter {
  readonly seq: number;
  readonly done: () => void;
}

export class StateHub {
  private readonly snapshots = new Map<ChannelName, () => unknown>();
  private readonly targets = new Set<StateTarget>();
  /** The last state message sent, and what each worker has acknowledged. */
  private seq = 0;
  private readonly applied = new Map<StateTarget, number>();
  private waiters: Waiter[] = [];
  private pending = new Map<ChannelName, unknown[]>();
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  /** How to take a channel's snapshot (for new workers and `replace`). */
  register<C extends ChannelName>(channel: C, snapshot: () => StateChannels[C]["replace"]): void {
    this.snapshots.set(channel, snapshot);
  }

  /** Starts keeping `target` in step: every snapshot now, then the events from here on. */
  attach(target: StateTarget): void {
    this.flush();
    for (const [channel, snapshot] of this.snapshots) {
      target.send({ t: "trustgate:state", channel, sentMs: Date.now(), seq: ++this.seq, replace: snapshot() });
    }
    this.targets.add(target);
    this.applied.set(target, 0);
  }

  detach(target: StateTarget): void {
    this.targets.delete(target);
    this.applied.delete(target);
    this.wake();
  }

  /** A worker has applied every state message up to `seq`. */
  acknowledged(target: StateTarget, seq: number): void {
    if (!this.targets.has(target)) return;
    if (seq > (this.applied.get(target) ?? 0)) this.applied.set(target, seq);
    this.wake();
  }

  /**
   * Resolves once every worker has applied everything sent or queued so far, or after `timeoutMs` (a worker busy
   * compiling a large policy set must not hold an answer for long; it applies the change in order all the same).
   */
  settled(timeoutMs: number): Promise<void> {
    this.flush();
    const seq = this.seq;
    if (this.allApplied(seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        seq,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // A worker that never answers must not keep every timed-out waiter listed.
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private allApplied(seq: number): boolean {
    for (const target of this.targets) if ((this.applied.get(target) ?? 0) < seq) return false;
    return true;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.allApplied(w.seq)) w.done();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Sends the channel's whole current state to every worker (after the events before it). */
  replace(channel: ChannelName): void {
    const snapshot = this.snapshots.get(channel);
    if (snapshot === undefined) return;
    this.flush();
    const replace = snapshot();
    const sentMs = Date.now();
    const seq = ++this.seq;
    for (const target of this.targets) target.send({ t: "trustgate:state", channel, sentMs, seq, replace });
  }

  /** Queues a change for every worker; sent at the end of this event-loop turn. */
  event<C extends ChannelName>(channel: C, event: StateChannels[C]["event"]): void {
    if (this.targets.size === 0) return;
    let list = this.pending.get(channel);
    if (list === undefined) {
      list = [];
      this.pending.set(channel, list);
    }
    list.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    const sentMs = Date.now();
    for (const [channel, events] of pending) {
      const seq = ++this.seq;
      for (const target of this.targets) target.send({ t: "trustgate:state", channel, sentMs, seq, events });
    }
  }
}
