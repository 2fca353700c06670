/**
 * What replicas tell each other through Redis: an accepted alert (with the weight it was accepted with), an
 * operator clear, that the Falco feed was heard, or an operator revocation record. Encoded as compact JSON; decoding
 * validates every field, and `outOfBounds` holds what decodes to the same limits as ingest, because a replica must
 * not trust whatever is in a shared Redis to be well-formed, let alone sane.
 */
import { parseRevocationRecord, type RevocationRecord } from "../identity/revocation-record.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import { FALCO_PRIORITIES, type FalcoPriority } from "../model/risk-view.js";
import { alertOutOfBounds, timeOutOfBounds } from "./event-bounds.js";
import type { RiskAlert } from "./risk-alert.js";

export type SharedEvent =
  | { readonly kind: "alert"; readonly origin: string; readonly alert: RiskAlert }
  | {
      readonly kind: "clear";
      readonly origin: string;
      readonly id: string;
      readonly spiffeId: string;
      readonly beforeMs: number;
    }
  | { readonly kind: "heard"; readonly origin: string; readonly atMs: number }
  | { readonly kind: "revocation"; readonly origin: string; readonly record: RevocationRecord };

const PRIORITIES = new Set<string>(FALCO_PRIORITIES);

export function encodeEvent(event: SharedEvent): string {
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
      });
    }
    case "clear":
      return JSON.stringify({ k: "clear", o: event.origin, id: event.id, sid: event.spiffeId, b: event.beforeMs });
    case "heard":
      return JSON.stringify({ k: "heard", o: event.origin, at: event.atMs });
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

/** The event, or null when the text is not a well-formed shared event. */
export function decodeEvent(text: string): SharedEvent | null {
  let v: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return null;
    v = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
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
      return { kind: "clear", origin: v.o, id: v.id, spiffeId: v.sid, beforeMs: v.b };
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
