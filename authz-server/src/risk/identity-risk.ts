/**
 * The risk of one workload: its retained alerts, a residual score for alerts folded away, and a cached assessment
 * that stays valid until the next moment it could change (an alert leaving its active window, or the decaying score
 * falling below the level's threshold). So `assess` is a comparison and a field read on the decision path; the
 * O(alerts) recomputation happens at most once per change, and alerts per identity are capped.
 */
import { LIFT_RANK, PRIORITY_RANK } from "../model/falco-priority.js";
import { type FalcoPriority, NO_ALERT, NO_RISK, type RiskAssessment, type RiskLevel } from "../model/risk-view.js";
import { boundedScore } from "./event-bounds.js";
import { explainAlert, type RiskAlert } from "./risk-alert.js";
import type { RiskSettings } from "./risk-settings.js";
import { NEGLIGIBLE_SCORE } from "./risk-settings.js";
import { decayed, levelForScore, msAbove, thresholdOf } from "./scoring.js";

/** One retained alert; repeats within the dedup window are coalesced into it. */
export interface AlertEntry {
  readonly rule: string;
  readonly priority: FalcoPriority;
  readonly time: string;
  readonly eventMs: number;
  receivedMs: number;
  /** Event time of the latest repeat: the alert stays active until lastMs + active window. */
  lastMs: number;
  /** The latest repeat's `time` as received. */
  lastTime: string;
  lastReceivedMs: number;
  readonly weight: number;
  count: number;
  readonly dedupKey: string;
  /**
   * Ids of the alerts recorded into this entry (the first and its repeats), at most MAX_TRACKED_IDS: what a clear
   * names. The entry goes when a clear names every one of them.
   */
  ids: string[];
}

/** How many ids of coalesced repeats an entry remembers for clears. */
export const MAX_TRACKED_IDS = 8;

export type RecordOutcome = "added" | "coalesced";

function moreSevere(a: AlertEntry, b: AlertEntry): boolean {
  const ra = PRIORITY_RANK[a.priority];
  const rb = PRIORITY_RANK[b.priority];
  if (ra !== rb) return ra < rb;
  if (a.weight !== b.weight) return a.weight > b.weight;
  return a.lastMs > b.lastMs;
}

export class IdentityRisk {
  readonly entries: AlertEntry[] = [];
  /** Latest entry per dedup key, for coalescing repeats. */
  private readonly latestByKey = new Map<string, AlertEntry>();
  residualScore = 0;
  residualAtMs = 0;
  private cached: RiskAssessment | null = null;
  private cachedScore = 0;
  private cachedAtMs = 0;
  private validUntilMs = 0;

  constructor(
    readonly spiffeId: string,
    private readonly settings: RiskSettings,
  ) {}

  assess(now: number): RiskAssessment {
    const cached = this.cached;
    if (cached !== null && now < this.validUntilMs && now >= this.cachedAtMs) return cached;
    return this.recompute(now);
  }

  /** Until when the cached assessment holds (0 when there is none). */
  get validUntil(): number {
    return this.cached === null ? 0 : this.validUntilMs;
  }

  /** The decayed score now (for views; the decision path only needs the level). */
  score(now: number): number {
    this.assess(now);
    return this.cachedAtMs === now ? this.cachedScore : this.recomputeScore(now);
  }

  private recomputeScore(now: number): number {
    let score = this.residualAt(now);
    for (const e of this.entries) score += decayed(e.weight, now - e.eventMs, this.settings.halfLifeMs);
    return score;
  }

  /** Adds an alert (already checked to matter); coalesces a repeat of a recent one. */
  record(alert: RiskAlert): RecordOutcome {
    this.cached = null;
    const latest = this.latestByKey.get(alert.dedupKey);
    if (
      latest !== undefined &&
      latest.priority === alert.priority &&
      Math.abs(alert.eventMs - latest.eventMs) < this.settings.dedupWindowMs
    ) {
      latest.count += 1;
      if (latest.ids.length < MAX_TRACKED_IDS && !latest.ids.includes(alert.id)) latest.ids.push(alert.id);
      if (alert.eventMs > latest.lastMs) {
        latest.lastMs = alert.eventMs;
        latest.lastTime = alert.time;
      }
      if (alert.receivedMs > latest.lastReceivedMs) latest.lastReceivedMs = alert.receivedMs;
      return "coalesced";
    }
    const entry: AlertEntry = {
      rule: alert.rule,
      priority: alert.priority,
      time: alert.time,
      eventMs: alert.eventMs,
      receivedMs: alert.receivedMs,
      lastMs: alert.eventMs,
      lastTime: alert.time,
      lastReceivedMs: alert.receivedMs,
      weight: alert.weight,
      count: 1,
      dedupKey: alert.dedupKey,
      ids: [alert.id],
    };
    this.entries.push(entry);
    if (latest === undefined || entry.eventMs >= latest.eventMs) this.latestByKey.set(entry.dedupKey, entry);
    if (this.entries.length > this.settings.maxAlertsPerIdentity) this.compact(alert.receivedMs, true);
    return "added";
  }

  /** Restores a retained alert from a snapshot. */
  restore(entry: AlertEntry): void {
    this.cached = null;
    this.entries.push(entry);
    const latest = this.latestByKey.get(entry.dedupKey);
    if (latest === undefined || entry.eventMs >= latest.eventMs) this.latestByKey.set(entry.dedupKey, entry);
  }

  /**
   * An operator cleared this workload, naming the alerts the clearing replica held (`named`): an entry goes when every
   * id it tracks is named; one that also holds alerts the clearing replica never saw survives, without the named ones.
   * The residual (alerts folded away) goes only with a clear that named something (`resetResidual`). Replicas that
   * apply the same clear in any order agree, and nothing the clearing replica did not know is erased.
   */
  clear(named: ReadonlySet<string>, resetResidual: boolean): number {
    this.cached = null;
    let removed = 0;
    const kept: AlertEntry[] = [];
    for (const e of this.entries) {
      const rest = e.ids.filter((id) => !named.has(id));
      if (rest.length === 0) removed += e.count;
      else if (rest.length === e.ids.length) kept.push(e);
      else {
        const gone = e.ids.length - rest.length;
        kept.push({ ...e, ids: rest, count: Math.max(1, e.count - gone) });
        removed += e.count - Math.max(1, e.count - gone);
      }
    }
    this.entries.length = 0;
    this.latestByKey.clear();
    for (const e of kept) this.restore(e);
    if (resetResidual) this.residualScore = 0;
    return removed;
  }

  /**
   * Folds negligible inactive alerts into the residual score (exactly: the score does not change), and when over
   * the per-identity cap, the oldest ones too. Returns true when nothing of note is left (the identity can go).
   */
  compact(now: number, overCapOnly = false): boolean {
    const { settings } = this;
    this.cached = null;
    const activeFrom = now - settings.activeWindowMs;
    let fold: AlertEntry[] = [];
    if (!overCapOnly) {
      fold = this.entries.filter(
        (e) => e.lastMs <= activeFrom && decayed(e.weight, now - e.eventMs, settings.halfLifeMs) < NEGLIGIBLE_SCORE,
      );
    }
    const excess = this.entries.length - fold.length - settings.maxAlertsPerIdentity;
    if (excess > 0) {
      const foldSet = new Set(fold);
      // Oldest inactive first, then (only if still over) the oldest active ones.
      const rest = this.entries
        .filter((e) => !foldSet.has(e))
        .sort((a, b) => Number(a.lastMs > activeFrom) - Number(b.lastMs > activeFrom) || a.eventMs - b.eventMs);
      fold = fold.concat(rest.slice(0, excess));
    }
    if (fold.length > 0) {
      let residual = this.residualAt(now);
      const folded = new Set(fold);
      for (const e of fold) residual += decayed(e.weight, now - e.eventMs, settings.halfLifeMs);
      this.residualScore = boundedScore(residual);
      this.residualAtMs = now;
      const kept = this.entries.filter((e) => !folded.has(e));
      this.entries.length = 0;
      this.latestByKey.clear();
      for (const e of kept) this.restore(e);
    }
    if (this.residualAt(now) < NEGLIGIBLE_SCORE) this.residualScore = 0;
    return this.entries.length === 0 && this.residualScore === 0;
  }

  residualAt(now: number): number {
    return this.residualScore === 0
      ? 0
      : decayed(this.residualScore, now - this.residualAtMs, this.settings.halfLifeMs);
  }

  /** Whether an alert is active at `now`. */
  isActive(e: AlertEntry, now: number): boolean {
    return now < e.lastMs + this.settings.activeWindowMs;
  }

  contribution(e: AlertEntry, now: number): number {
    return decayed(e.weight, now - e.eventMs, this.settings.halfLifeMs);
  }

  private recompute(now: number): RiskAssessment {
    const { settings } = this;
    let score = this.residualAt(now);
    let strongest: AlertEntry | null = null;
    let strongestContribution = -1;
    let severest: AlertEntry | null = null;
    let nextExpiry = Number.POSITIVE_INFINITY;
    for (const e of this.entries) {
      const c = decayed(e.weight, now - e.eventMs, settings.halfLifeMs);
      score += c;
      if (c > strongestContribution) {
        strongest = e;
        strongestContribution = c;
      }
      const activeUntil = e.lastMs + settings.activeWindowMs;
      if (now < activeUntil) {
        if (activeUntil < nextExpiry) nextExpiry = activeUntil;
        if (severest === null || moreSevere(e, severest)) severest = e;
      }
    }
    const scoreLevel = levelForScore(score, settings.thresholds);
    const lifted = severest !== null && PRIORITY_RANK[severest.priority] <= LIFT_RANK;
    const level: RiskLevel = lifted ? "critical" : scoreLevel;
    // The alert that tipped the level: the lifting alert; else the largest contributor to a raised score; else the
    // most severe active alert of a low-risk workload.
    const tipping = lifted ? severest : scoreLevel !== "low" ? (strongest ?? severest) : severest;
    let validUntil = nextExpiry;
    if (scoreLevel !== "low") {
      validUntil = Math.min(
        validUntil,
        now + msAbove(score, thresholdOf(scoreLevel, settings.thresholds), settings.halfLifeMs),
      );
    }
    const assessment: RiskAssessment =
      score === 0 && severest === null
        ? NO_RISK
        : {
            level,
            highestAlert: severest?.priority ?? NO_ALERT,
            explanation:
              tipping !== null
                ? explainAlert(tipping.rule, tipping.priority, tipping.time)
                : level === "low"
                  ? ""
                  : "earlier Falco alerts (decayed)",
          };
    this.cached = assessment;
    this.cachedScore = score;
    this.cachedAtMs = now;
    // Never cache past a moment we cannot compute exactly (floating point at the threshold): re-check then.
    this.validUntilMs = Math.max(now + 1, Math.floor(validUntil));
    return assessment;
  }
}
