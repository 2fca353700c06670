/**
 * The risk engine's state as plain data, for the snapshot file: exported as is, and restored over an empty engine
 * with whatever can no longer matter dropped on the way in.
 */
import { boundedScore, boundedWeight, MAX_ALERT_DELAY_MS } from "./event-bounds.js";
import { type AlertEntry, IdentityRisk, MAX_TRACKED_IDS } from "./identity-risk.js";
import type { RiskEngine } from "./risk-engine.js";

/** A retained alert as saved; `ids` is absent in snapshots written before clears named alerts. */
export type SavedAlert = Omit<AlertEntry, "ids"> & { readonly ids?: readonly string[] };

export interface EngineState {
  readonly lastHeardMs: number | null;
  readonly identities: ReadonlyArray<{
    readonly spiffeId: string;
    readonly residualScore: number;
    readonly residualAtMs: number;
    readonly alerts: readonly SavedAlert[];
  }>;
  /** Ids of applied alerts and clears, with when they can be forgotten. */
  readonly seen: ReadonlyArray<readonly [string, number]>;
}

export function exportEngineState(engine: RiskEngine): EngineState {
  return {
    lastHeardMs: engine.lastHeard(),
    identities: [...engine.allIdentities()].map((i) => ({
      spiffeId: i.spiffeId,
      residualScore: boundedScore(i.residualScore),
      residualAtMs: i.residualAtMs,
      alerts: i.entries.map((e) => ({ ...e, weight: boundedWeight(e.weight) })),
    })),
    seen: [...engine.seenIds()],
  };
}

/**
 * A saved alert held to the bounds every alert is held to on ingest and from Redis, on this clock: received no later
 * than now, event times within the ingest bound before receipt. A file from a host whose clock ran ahead thus cannot
 * keep an alert active, or at full weight (a negative age does not decay), for as long as that clock was ahead.
 */
function boundedEntry(entry: SavedAlert, now: number): AlertEntry {
  const within = (t: number, received: number) => Math.min(received, Math.max(received - MAX_ALERT_DELAY_MS, t));
  const receivedMs = Math.min(entry.receivedMs, now);
  const lastReceivedMs = Math.min(Math.max(entry.lastReceivedMs, receivedMs), now);
  const eventMs = within(entry.eventMs, receivedMs);
  return {
    ...entry,
    receivedMs,
    eventMs,
    lastReceivedMs,
    lastMs: Math.max(eventMs, within(entry.lastMs, lastReceivedMs)),
    weight: boundedWeight(entry.weight),
    // Without saved ids (an older snapshot), a stand-in: a clear made here names it; one from elsewhere cannot.
    ids: entry.ids?.slice(0, MAX_TRACKED_IDS) ?? [`restored:${entry.dedupKey}:${entry.eventMs}`],
  };
}

/** Loads a saved state into an empty engine. */
export function importEngineState(engine: RiskEngine, state: EngineState): void {
  const now = engine.now();
  const { settings } = engine;
  // A time ahead of this clock (a file from a host whose clock ran fast) must not keep the feed fresh for long.
  if (state.lastHeardMs !== null) engine.heard(Math.min(state.lastHeardMs, now));
  for (const [id, expires] of [...state.seen].sort((a, b) => a[1] - b[1])) {
    if (expires > now) engine.restoreSeen(id, Math.min(expires, now + settings.forgetAfterMs));
  }
  for (const saved of state.identities) {
    const identity = new IdentityRisk(saved.spiffeId, settings);
    identity.residualScore = boundedScore(saved.residualScore);
    // A residual time ahead of now would not decay (a negative age counts as zero) until that time came.
    identity.residualAtMs = Math.min(saved.residualAtMs, now);
    for (const alert of saved.alerts) {
      const entry = boundedEntry(alert, now);
      if (entry.weight > 0 && now - entry.eventMs <= settings.forgetAfterMs) identity.restore(entry);
    }
    if (!identity.compact(now) && !engine.restoreIdentity(identity)) break;
  }
}
