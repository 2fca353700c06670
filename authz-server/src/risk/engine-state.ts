/**
 * The risk engine's state as plain data, for the snapshot file: exported as is, and restored over an empty engine
 * with whatever can no longer matter dropped on the way in.
 */
import { boundedScore, boundedWeight } from "./event-bounds.js";
import { type AlertEntry, IdentityRisk } from "./identity-risk.js";
import type { RiskEngine } from "./risk-engine.js";

export interface EngineState {
  readonly lastHeardMs: number | null;
  readonly identities: ReadonlyArray<{
    readonly spiffeId: string;
    readonly residualScore: number;
    readonly residualAtMs: number;
    readonly alerts: readonly AlertEntry[];
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

/** Loads a saved state into an empty engine. */
export function importEngineState(engine: RiskEngine, state: EngineState): void {
  const now = engine.now();
  const { settings } = engine;
  // A time ahead of this clock (a file from a host whose clock ran fast) must not keep the feed fresh for long.
  if (state.lastHeardMs !== null) engine.heard(Math.min(state.lastHeardMs, now));
  for (const [id, expires] of [...state.seen].sort((a, b) => a[1] - b[1])) {
    if (expires > now) engine.restoreSeen(id, expires);
  }
  for (const saved of state.identities) {
    const identity = new IdentityRisk(saved.spiffeId, settings);
    identity.residualScore = boundedScore(saved.residualScore);
    identity.residualAtMs = saved.residualAtMs;
    for (const entry of saved.alerts) {
      if (entry.weight > 0 && now - entry.eventMs <= settings.forgetAfterMs) {
        identity.restore({ ...entry, weight: boundedWeight(entry.weight) });
      }
    }
    if (!identity.compact(now) && !engine.restoreIdentity(identity)) break;
  }
}
