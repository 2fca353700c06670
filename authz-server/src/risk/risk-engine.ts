/**
 * The risk engine: per-workload decaying risk from attributed Falco alerts, answering the decision path's
 * `assess`/`feed` from memory (see identity-risk.ts for why that is cheap), and the state behind `/v1/risk`, the
 * revocation list (identities at critical), the snapshot file and replica sharing. It does no I/O: callers feed it
 * alerts, clears and heartbeats, local or from other replicas, each applied at most once by id.
 */
import { PRIORITY_SPELLING } from "../falco/priority.js";
import { type AlertEntry, IdentityRisk } from "./identity-risk.js";
import type { RiskAlert } from "./risk-alert.js";
import type { RiskSettings } from "./risk-settings.js";
import {
  type FeedState,
  NO_ALERT,
  NO_RISK,
  RISK_LEVELS,
  type RiskAssessment,
  type RiskLevel,
  type RiskView,
} from "./risk-view.js";

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

export interface AlertView {
  readonly rule: string;
  readonly priority: string;
  readonly time: string;
  readonly lastTime: string;
  readonly count: number;
  readonly weight: number;
  readonly score: number;
  readonly active: boolean;
  readonly receivedAt: string;
}

export interface IdentityView extends RiskAssessment {
  readonly spiffeId: string;
  readonly score: number;
  readonly activeAlerts: readonly AlertView[];
  readonly alerts?: readonly AlertView[];
  readonly retainedAlerts: number;
}

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

const MAX_SEEN = 200_000;

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

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
  ) {}

  // --- the decision path ------------------------------------------------------------------------------------------

  assess(spiffeId: string): RiskAssessment {
    if (spiffeId === "") return NO_RISK;
    const identity = this.identities.get(spiffeId);
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

  record(alert: RiskAlert): RecordResult {
    if (this.seen.has(alert.id)) return "duplicate";
    this.remember(alert.id, alert.receivedMs + this.settings.forgetAfterMs);
    if (!(alert.weight > 0)) return "ignored";
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
   * Clears a workload's alerts received up to `beforeMs` (an operator decided after investigation). `id` makes the
   * clear idempotent when it arrives again from another replica. Returns the number of alerts removed.
   */
  clear(spiffeId: string, beforeMs: number, id: string): number {
    if (this.seen.has(id)) return 0;
    this.remember(id, beforeMs + this.settings.forgetAfterMs);
    const identity = this.identities.get(spiffeId);
    if (identity === undefined) return 0;
    this.changes += 1;
    const removed = identity.clear(beforeMs);
    if (identity.entries.length === 0) this.identities.delete(spiffeId);
    return removed;
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

  /** One workload for `/v1/risk?id=`, with all retained alerts; an unknown workload is low risk. */
  view(spiffeId: string): IdentityView {
    const identity = this.identities.get(spiffeId);
    if (identity === undefined) {
      return { spiffeId, ...NO_RISK, score: 0, activeAlerts: [], alerts: [], retainedAlerts: 0 };
    }
    return this.describe(identity, true);
  }

  /** Every workload with retained alerts, riskiest first. */
  viewAll(): IdentityView[] {
    const views = [...this.identities.values()].map((identity) => this.describe(identity, false));
    return views.sort((a, b) => b.score - a.score || a.spiffeId.localeCompare(b.spiffeId));
  }

  private describe(identity: IdentityRisk, withAll: boolean): IdentityView {
    const now = this.now();
    const a = identity.assess(now);
    const alerts = identity.entries
      .map(
        (e): AlertView => ({
          rule: e.rule,
          priority: PRIORITY_SPELLING[e.priority],
          time: e.time,
          lastTime: e.lastTime,
          count: e.count,
          weight: e.weight,
          score: round(identity.contribution(e, now)),
          active: identity.isActive(e, now),
          receivedAt: new Date(e.receivedMs).toISOString(),
        }),
      )
      .sort((x, y) => y.score - x.score);
    return {
      spiffeId: identity.spiffeId,
      level: a.level,
      highestAlert: a.highestAlert,
      explanation: a.explanation,
      score: round(identity.score(now)),
      activeAlerts: alerts.filter((x) => x.active),
      ...(withAll ? { alerts } : {}),
      retainedAlerts: identity.entries.length,
    };
  }

  // --- persistence ------------------------------------------------------------------------------------------------

  exportState(): EngineState {
    return {
      lastHeardMs: this.lastHeardMs,
      identities: [...this.identities.values()].map((i) => ({
        spiffeId: i.spiffeId,
        residualScore: i.residualScore,
        residualAtMs: i.residualAtMs,
        alerts: i.entries.map((e) => ({ ...e })),
      })),
      seen: [...this.seen.entries()],
    };
  }

  /** Loads a saved state (over an empty engine); what can no longer matter is dropped on the way in. */
  importState(state: EngineState): void {
    const now = this.now();
    this.changes += 1;
    if (state.lastHeardMs !== null) this.heard(state.lastHeardMs);
    for (const [id, expires] of [...state.seen].sort((a, b) => a[1] - b[1])) {
      if (expires > now) this.remember(id, expires);
    }
    for (const saved of state.identities) {
      if (this.identities.size >= this.settings.maxIdentities) break;
      const identity = new IdentityRisk(saved.spiffeId, this.settings);
      identity.residualScore = saved.residualScore;
      identity.residualAtMs = saved.residualAtMs;
      for (const entry of saved.alerts) {
        if (entry.weight > 0 && now - entry.eventMs <= this.settings.forgetAfterMs) identity.restore({ ...entry });
      }
      if (!identity.compact(now)) this.identities.set(saved.spiffeId, identity);
    }
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
