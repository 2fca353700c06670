/**
 * What replicas tell each other through Redis: an accepted alert (with the weight it was accepted with), an
 * operator clear, that the Falco feed was heard, or an operator revocation record. Encoded as compact JSON; decoding
 * validates every field, and `outOfBounds` holds what decodes to the same limits as ingest, because a replica must
 * not trust whatever is in a shared Redis to be well-formed, let alone sane.
 */
import { parseRevocationRecord, type RevocationRecord } from "../identity/revocation-record.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import { FALCO_PRIORITIES, type FalcoPriority } from "../model/risk-view.js";
import { alertOutOfBounds, MAX_CLEAR_IDS, MAX_SENDER_OFFSET_MS, timeOutOfBounds } from "./event-bounds.js";
import type { RiskAlert } from "./risk-alert.js";

export type SharedEvent =
  | { readonly kind: "alert"; readonly origin: string; readonly alert: RiskAlert }
  | {
      readonly kind: "clear";
      readonly origin: string;
      readonly id: string;
      readonly spiffeId: string;
      readonly beforeMs: number;
      /**
       * The ids of the alerts the clearing replica held for the workload (at most MAX_CLEAR_IDS): a clear removes
       * these and nothing else, so an alert the clearing replica never saw survives on every replica. A clear from an
       * older replica (without the field) names nothing and removes nothing.
       */
      readonly alertIds: readonly string[];
    }
  | { readonly kind: "heard"; readonly origin: string; readonly atMs: number }
  | { readonly kind: "revocation"; readonly origin: string; readonly record: RevocationRecord };

const PRIORITIES = new Set<string>(FALCO_PRIORITIES);

/**
 * `sentMs`: the sender's clock when it handed the event to Redis (`tx`), so a receiver can place the event's times on
 * its own clock (see `decodeEvent`). Revocations carry Lamport stamps and ignore it.
 */
export function encodeEvent(event: SharedEvent, sentMs?: number): string {
  const tx = sentMs === undefined || event.kind === "revocation" ? {} : { tx: sentMs };
  switch (event.kind) {
    case "alert": {
      const a = event.alert;
      return JSON.stringify({
        k: "alert",
        o: event.origin,
        id: a.id,
        sid: a.spiffeId,
        r: a.rule,
        p: a.priority,
        t: a.time,
        ev: a.eventMs,
        rcv: a.receivedMs,
        w: a.weight,
        dk: a.dedupKey,
        ...tx,
      });
    }
    case "clear":
      return JSON.stringify({
        k: "clear",
        o: event.origin,
        id: event.id,
        sid: event.spiffeId,
        b: event.beforeMs,
        a: event.alertIds,
        ...tx,
      });
    case "heard":
      return JSON.stringify({ k: "heard", o: event.origin, at: event.atMs, ...tx });
    case "revocation":
      return JSON.stringify({ k: "rev", o: event.origin, rec: event.record });
  }
}

function str(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 4096;
}

function num(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_CLEAR_IDS && v.every(str);
}

/**
 * Where a receiver places another replica's times: `entryMs` is the time in the Redis stream entry's id (Redis's clock,
 * when the event went into Redis), `nowMs` the receiver's clock.
 */
export interface Anchor {
  readonly entryMs?: number;
  readonly nowMs: number;
}

/** The millisecond time of a Redis stream entry id (`<ms>-<seq>`), or undefined. */
export function entryIdMs(id: string): number | undefined {
  const ms = Number(id.slice(0, id.indexOf("-")));
  return id.includes("-") && Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/**
 * The event with its times moved from the sender's clock onto the receiver's. The sender said when it handed the
 * event to Redis (`tx`, its clock); that moment is the stream entry's time on Redis's clock, which both sides read
 * the same, capped at the receiver's now (an entry cannot have been written after it was read). So the event keeps the
 * age it had on the sender (time spent queued in an outage included), whatever the two clocks say: a replica whose
 * clock runs ahead is not refused, one whose clock runs behind does not deliver pre-decayed alerts. An event without
 * `tx` (an older replica) is taken as sent when it entered the stream. A sender clock more than MAX_SENDER_OFFSET_MS
 * off is not believed: such an event keeps its times and is held to the bounds as they are (refused when ahead).
 */
function anchored(event: SharedEvent, sentMs: number | undefined, anchor: Anchor): SharedEvent {
  if (event.kind === "revocation") return event;
  const base = Math.min(anchor.entryMs ?? anchor.nowMs, anchor.nowMs);
  const main = event.kind === "alert" ? event.alert.receivedMs : event.kind === "clear" ? event.beforeMs : event.atMs;
  // Sent before its own time is nonsense (or absent): sent at once.
  const shift = base - (sentMs !== undefined && sentMs >= main ? sentMs : main);
  if (!(Math.abs(shift) <= MAX_SENDER_OFFSET_MS)) return event;
  switch (event.kind) {
    case "alert": {
      const { receivedMs, eventMs } = event.alert;
      return { ...event, alert: { ...event.alert, receivedMs: receivedMs + shift, eventMs: eventMs + shift } };
    }
    case "clear":
      return { ...event, beforeMs: event.beforeMs + shift };
    case "heard":
      return { ...event, atMs: event.atMs + shift };
  }
}

/**
 * The event, or null when the text is not a well-formed shared event. With `anchor` (an event read from the Redis
 * stream), its times are placed on this replica's clock (see `anchored`).
 */
export function decodeEvent(text: string, anchor?: Anchor): SharedEvent | null {
  const event = decodeFields(text);
  if (event === null || anchor === undefined) return event?.event ?? null;
  return anchored(event.event, event.sentMs, anchor);
}

function decodeFields(text: string): { event: SharedEvent; sentMs: number | undefined } | null {
  let v: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return null;
    v = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const event = decodeObject(v);
  if (event === null || (v.tx !== undefined && !num(v.tx))) return null;
  return { event, sentMs: v.tx as number | undefined };
}

function decodeObject(v: Record<string, unknown>): SharedEvent | null {
  if (!str(v.o)) return null;
  switch (v.k) {
    case "alert":
      if (!str(v.id) || !str(v.sid) || !parseSpiffeId(v.sid).ok || !str(v.r) || !str(v.t) || !str(v.dk)) return null;
      if (typeof v.p !== "string" || !PRIORITIES.has(v.p)) return null;
      if (!num(v.ev) || !num(v.rcv) || !num(v.w) || v.w < 0) return null;
      return {
        kind: "alert",
        origin: v.o,
        alert: {
          id: v.id,
          spiffeId: v.sid,
          rule: v.r,
          priority: v.p as FalcoPriority,
          time: v.t,
          eventMs: v.ev,
          receivedMs: v.rcv,
          weight: v.w,
          dedupKey: v.dk,
        },
      };
    case "clear":
      if (!str(v.id) || !str(v.sid) || !parseSpiffeId(v.sid).ok || !num(v.b)) return null;
      if (v.a !== undefined && !strings(v.a)) return null;
      return {
        kind: "clear",
        origin: v.o,
        id: v.id,
        spiffeId: v.sid,
        beforeMs: v.b,
        alertIds: (v.a as string[]) ?? [],
      };
    case "heard":
      if (!num(v.at)) return null;
      return { kind: "heard", origin: v.o, atMs: v.at };
    case "rev": {
      const parsed = parseRevocationRecord(v.rec);
      return parsed.ok ? { kind: "revocation", origin: v.o, record: parsed.record } : null;
    }
    default:
      return null;
  }
}

/** Why a well-formed event is not believable at `nowMs` (ingest's limits), or null when it is. */
export function outOfBounds(event: SharedEvent, nowMs: number): string | null {
  switch (event.kind) {
    case "alert":
      return alertOutOfBounds(event.alert, nowMs);
    case "clear":
      return timeOutOfBounds(event.beforeMs, nowMs);
    case "heard":
      return timeOutOfBounds(event.atMs, nowMs);
    case "revocation":
      return timeOutOfBounds(event.record.atMs, nowMs);
  }
}
