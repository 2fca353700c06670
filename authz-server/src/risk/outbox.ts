/**
 * The risk events a replica has yet to publish to Redis, bounded, so an outage during a noisy Falco cannot exhaust
 * memory, and prioritized, so what is dropped at the bound is what matters least: Critical-or-above alerts and
 * operator clears have their own queue that routine alerts never push anything out of, routine alerts (below
 * Critical) are dropped oldest first when theirs is full, and heartbeats coalesce into the latest one.
 */
import { LIFT_RANK, PRIORITY_RANK } from "../model/falco-priority.js";
import type { SharedEvent } from "./shared-event.js";

/** A first-in first-out queue with O(1) removal at the front. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `items` back at the front, in order. */
  unshiftAll(items: readonly T[]): void {
    if (items.length === 0) return;
    this.items = (items as Array<T | undefined>).concat(this.items.slice(this.head));
    this.head = 0;
  }
}

/** Whether the event must never be dropped for routine ones: an alert that lifts to critical, or an operator clear. */
export function urgent(event: SharedEvent): boolean {
  return (
    event.kind === "clear" ||
    event.kind === "revocation" ||
    (event.kind === "alert" && PRIORITY_RANK[event.alert.priority] <= LIFT_RANK)
  );
}

export class Outbox {
  private readonly urgent = new Fifo<SharedEvent>();
  private readonly routine = new Fifo<SharedEvent>();
  private heartbeat: SharedEvent | null = null;

  /** At most `maxUrgent` urgent and `maxRoutine` routine events are held (and one heartbeat). */
  constructor(
    private readonly maxUrgent: number,
    private readonly maxRoutine: number,
  ) {}

  get size(): number {
    return this.urgent.length + this.routine.length + (this.heartbeat === null ? 0 : 1);
  }

  /** Queues `event`; returns the event dropped to make room for it, or null. */
  push(event: SharedEvent): SharedEvent | null {
    if (event.kind === "heard") {
      if (this.heartbeat === null || this.heartbeat.kind !== "heard" || event.atMs >= this.heartbeat.atMs) {
        this.heartbeat = event;
      }
      return null;
    }
    const [queue, max] = urgent(event) ? [this.urgent, this.maxUrgent] : [this.routine, this.maxRoutine];
    const dropped = queue.length >= max ? (queue.shift() ?? null) : null;
    queue.push(event);
    return dropped;
  }

  /** Takes up to `n` events: urgent ones first, then routine ones, then the heartbeat. */
  take(n: number): SharedEvent[] {
    const batch: SharedEvent[] = [];
    for (const queue of [this.urgent, this.routine]) {
      while (batch.length < n && queue.length > 0) batch.push(queue.shift() as SharedEvent);
    }
    if (batch.length < n && this.heartbeat !== null) {
      batch.push(this.heartbeat);
      this.heartbeat = null;
    }
    return batch;
  }

  /** Puts events taken but not published back at the front of their queues (a newer heartbeat wins). */
  putBack(events: readonly SharedEvent[]): void {
    const heard = events.filter((e) => e.kind === "heard");
    this.urgent.unshiftAll(events.filter((e) => e.kind !== "heard" && urgent(e)));
    this.routine.unshiftAll(events.filter((e) => e.kind !== "heard" && !urgent(e)));
    for (const e of heard) if (this.heartbeat === null) this.heartbeat = e;
  }
}
