/**
 * The risk engine: per-workload decaying risk from attributed Falco alerts, answering the decision path's
 * `assess`/`feed` from memory (see identity-risk.ts for why that is cheap) and taking updates. It does no I/O:
 * callers feed it alerts, clears and heartbeats, local or from other replicas, each applied at most once by id.
 * Operator reports (risk-report.ts) and persistence (engine-state.ts) read and restore it from outside.
 */

import { type IdentityNames, SINGLE_NAMES } from "../identity/identity-names.js";
import {
  type FeedState,
  NO_ALERT,
  NO_RISK,
  RISK_LEVELS,
  type RiskAssessment,
  type RiskLevel,
  type RiskView,
} from "../model/risk-view.js";
import { MAX_CLEAR_IDS, MAX_WEIGHT } from "./event-bounds.js";
import { IdentityRisk } from "./identity-risk.js";
import type { RiskAlert } from "./risk-alert.js";
import type { RiskSettings } from "./risk-settings.js";

export type RecordResult =
  /** A new alert for the workload. */
  | "added"
  /** A repeat of a recent alert: counted, no extra score. */
  | "coalesced"
  /** Already applied (same id: a replica's echo, a replay, a Falcosidekick resend). */
  | "duplicate"
  /** Weight 0 (silenced by configuration): no risk. */
  | "ignored"
  /** So old it can no longer matter. */
  | "expired"
  /** The identity table is full of riskier workloads. */
  | "capacity";

const MAX_SEEN = 200_000;

export class RiskEngine implements RiskView {
  private readonly identities = new Map<string, IdentityRisk>();
  private readonly seen = new Map<string, number>();
  private lastHeardMs: number | null = null;
  /** Bumped on every change of alerts, so derived answers (the critical list) know when to recompute. */
  private changes = 0;
  private critical: { list: string[]; changes: number; fromMs: number; untilMs: number } | null = null;

  constructor(
    readonly settings: RiskSettings,
    readonly now: () => number = Date.now,
    /** Trust-domain aliases: a workload's risk is kept under its mesh name, whichever name the alert or caller used. */
    private readonly names: IdentityNames = SINGLE_NAMES,
  ) {}

  // --- the decision path ------------------------------------------------------------------------------------------

  assess(spiffeId: string): RiskAssessment {
    if (spiffeId === "") return NO_RISK;
    const identity = this.identities.get(this.names.canonical(spiffeId));
    return identity === undefined ? NO_RISK : identity.assess(this.now());
  }

  feed(): FeedState {
    const heard = this.lastHeardMs;
    return heard !== null && this.now() - heard < this.settings.staleAfterMs ? "fresh" : "stale";
  }

  // --- updates ----------------------------------------------------------------------------------------------------

  /** The Falco feed spoke (any accepted alert, heartbeat or not). */
  heard(atMs: number): void {
    if (this.lastHeardMs === null || atMs > this.lastHeardMs) this.lastHeardMs = atMs;
  }

  record(incoming: RiskAlert): RecordResult {
    if (this.seen.has(incoming.id)) return "duplicate";
    this.remember(incoming.id, incoming.receivedMs + this.settings.forgetAfterMs);
    if (!(incoming.weight > 0)) return "ignored";
    // Weights are bounded wherever they come from, so no score can overflow to Infinity (and a snapshot to null).
    const spiffeId = this.names.canonical(incoming.spiffeId);
    const alert =
      incoming.weight > MAX_WEIGHT || spiffeId !== incoming.spiffeId
        ? { ...incoming, spiffeId, weight: Math.min(incoming.weight, MAX_WEIGHT) }
        : incoming;
    if (this.now() - alert.eventMs > this.settings.forgetAfterMs) return "expired";
    this.changes += 1;
    let identity = this.identities.get(alert.spiffeId);
    if (identity === undefined) {
      if (this.identities.size >= this.settings.maxIdentities && !this.makeRoom(alert.weight)) return "capacity";
      identity = new IdentityRisk(alert.spiffeId, this.settings);
      this.identities.set(alert.spiffeId, identity);
    }
    return identity.record(alert);
  }

  /**
   * Clears the alerts named by `alertIds` (an operator decided after investigation, on this replica or another; see
   * IdentityRisk.clear) at `atMs`. `id` makes the clear idempotent when it arrives again from another replica; the
   * named ids are remembered as applied, so a copy of a named alert arriving later (still queued on a third replica)
   * is a duplicate instead of coming back. Returns the number of alerts removed.
   */
  clear(spiffeId: string, alertIds: readonly string[], id: string, atMs: number): number {
    if (this.seen.has(id)) return 0;
    const expires = Math.min(atMs, this.now()) + this.settings.forgetAfterMs;
    this.remember(id, expires);
    for (const alertId of alertIds) if (!this.seen.has(alertId)) this.remember(alertId, expires);
    const key = this.names.canonical(spiffeId);
    const identity = this.identities.get(key);
    if (identity === undefined) return 0;
    this.changes += 1;
    const removed = identity.clear(new Set(alertIds), alertIds.length > 0);
    if (identity.entries.length === 0 && identity.residualScore === 0) this.identities.delete(key);
    return removed;
  }

  /** The ids of the alerts held for a workload (what a clear made here names), at most MAX_CLEAR_IDS. */
  alertIds(spiffeId: string): string[] {
    const ids: string[] = [];
    for (const e of this.identity(spiffeId)?.entries ?? []) {
      if (ids.length + e.ids.length > MAX_CLEAR_IDS) break;
      ids.push(...e.ids);
    }
    return ids;
  }

  /** Periodic upkeep: folds negligible alerts away, drops workloads with nothing left, forgets old ids. */
  sweep(): void {
    const now = this.now();
    this.changes += 1;
    for (const [id, identity] of this.identities) if (identity.compact(now)) this.identities.delete(id);
    for (const [id, expires] of this.seen) {
      if (expires > now) break; // insertion order ≈ expiry order
      this.seen.delete(id);
    }
  }

  // --- reading ----------------------------------------------------------------------------------------------------

  /**
   * Workloads at level critical now, for the revocation list every sidecar polls: cached until an alert changes or
   * the first identity's assessment expires, so a poll usually costs nothing.
   */
  criticalIdentities(): string[] {
    const now = this.now();
    const cached = this.critical;
    if (cached !== null && cached.changes === this.changes && now >= cached.fromMs && now < cached.untilMs) {
      return cached.list;
    }
    const list: string[] = [];
    let untilMs = Number.POSITIVE_INFINITY;
    for (const [id, identity] of this.identities) {
      if (identity.assess(now).level === "critical") list.push(id);
      untilMs = Math.min(untilMs, identity.validUntil);
    }
    this.critical = { list, changes: this.changes, fromMs: now, untilMs };
    return list;
  }

  levelCounts(): Record<RiskLevel, number> {
    const now = this.now();
    const counts = Object.fromEntries(RISK_LEVELS.map((l) => [l, 0])) as Record<RiskLevel, number>;
    for (const identity of this.identities.values()) counts[identity.assess(now).level] += 1;
    return counts;
  }

  get identityCount(): number {
    return this.identities.size;
  }

  lastHeard(): number | null {
    return this.lastHeardMs;
  }

  /** The workload's risk record, if it has retained alerts. */
  identity(spiffeId: string): IdentityRisk | undefined {
    return this.identities.get(this.names.canonical(spiffeId));
  }

  allIdentities(): IterableIterator<IdentityRisk> {
    return this.identities.values();
  }

  /** Ids of applied alerts and clears, with when each can be forgotten. */
  seenIds(): IterableIterator<[string, number]> {
    return this.seen.entries();
  }

  // --- restoring saved state (engine-state.ts) -----------------------------------------------------------------------

  /** Remembers an applied id (from a saved state) so a replay of it is a duplicate. */
  restoreSeen(id: string, expiresMs: number): void {
    this.changes += 1;
    this.remember(id, expiresMs);
  }

  /** Adds a restored workload; false when the table is full. */
  restoreIdentity(identity: IdentityRisk): boolean {
    if (this.identities.size >= this.settings.maxIdentities) return false;
    this.changes += 1;
    this.identities.set(identity.spiffeId, identity);
    return true;
  }

  // --- internals --------------------------------------------------------------------------------------------------

  private remember(id: string, expiresMs: number): void {
    if (this.seen.size >= MAX_SEEN) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.seen.set(id, expiresMs);
  }

  /** At capacity: drop finished workloads, then the least risky one if it is less risky than the newcomer. */
  private makeRoom(incomingWeight: number): boolean {
    this.sweep();
    if (this.identities.size < this.settings.maxIdentities) return true;
    const now = this.now();
    let victim: string | null = null;
    let lowest = Number.POSITIVE_INFINITY;
    for (const [id, identity] of this.identities) {
      const a = identity.assess(now);
      if (a.highestAlert !== NO_ALERT) continue; // never evict a workload with an active alert
      const score = identity.score(now);
      if (score < lowest) {
        lowest = score;
        victim = id;
      }
    }
    if (victim === null || lowest >= incomingWeight) return false;
    this.identities.delete(victim);
    return true;
  }
}
