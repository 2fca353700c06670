/**
 * The primary's side of the state channels (cluster-messages.ts): one place that knows the current snapshot of every
 * channel and every worker to keep in step. A new worker gets every snapshot before any event; events are batched per
 * event-loop turn (one message per worker per turn, however many alerts arrived in it) and reach every worker in the
 * order they were applied here.
 */
import type { ChannelName, StateChannels, ToWorker } from "./cluster-messages.js";

export interface StateTarget {
  send(message: ToWorker): void;
}

export class StateHub {
  private readonly snapshots = new Map<ChannelName, () => unknown>();
  private readonly targets = new Set<StateTarget>();
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
      target.send({ t: "trustgate:state", channel, sentMs: Date.now(), replace: snapshot() });
    }
    this.targets.add(target);
  }

  detach(target: StateTarget): void {
    this.targets.delete(target);
  }

  /** Sends the channel's whole current state to every worker (after the events before it). */
  replace(channel: ChannelName): void {
    const snapshot = this.snapshots.get(channel);
    if (snapshot === undefined) return;
    this.flush();
    const replace = snapshot();
    const sentMs = Date.now();
    for (const target of this.targets) target.send({ t: "trustgate:state", channel, sentMs, replace });
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
      for (const target of this.targets) target.send({ t: "trustgate:state", channel, sentMs, events });
    }
  }
}
