/**
 * Ingest rate limits that a flood cannot use to hide an alert that matters. Each source (a client address, or a
 * client certificate on the TLS ingest listener) has two budgets:
 *  - routine: alerts below Critical, `ratePerSecond` on average with bursts of up to `burst`;
 *  - urgent: Critical, Alert and Emergency, `urgentRatePerSecond` / `urgentBurst`, which nothing else draws on.
 * So one noisy Falco (or an attacker holding the ingest token) exhausts its own routine budget only: its Critical
 * alerts, and every other source's alerts, still get in.
 *
 * Counting is rate-limiter-flexible's in-memory limiter (a fixed window of `burst / rate` seconds per source),
 * per replica: Redis stays off the ingest path, so an outage of Redis can never refuse an alert. A request
 * refused by a budget takes nothing from it.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { LIFT_RANK, PRIORITY_RANK } from "../model/falco-priority.js";
import type { FalcoPriority } from "../model/risk-view.js";

export interface IngestLimitSettings {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly urgentRatePerSecond: number;
  readonly urgentBurst: number;
}

export type BudgetName = "routine" | "urgent";

/** Critical, Alert and Emergency: the priorities that make a workload critical at once. */
export function isUrgent(priority: FalcoPriority): boolean {
  return PRIORITY_RANK[priority] <= LIFT_RANK;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

class Budget {
  private readonly limiter: RateLimiterMemory;

  constructor(
    ratePerSecond: number,
    readonly burst: number,
  ) {
    this.limiter = new RateLimiterMemory({ points: burst, duration: burst / ratePerSecond });
  }

  async take(source: string, count: number): Promise<Take> {
    try {
      await this.limiter.consume(source, count);
      return { ok: true };
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      // The limiter counted the refused points; a refused request must not use up the budget.
      await this.limiter.reward(source, count);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
    }
  }
}

export class IngestLimits {
  private readonly budgets: Record<BudgetName, Budget>;

  constructor(settings: IngestLimitSettings) {
    this.budgets = {
      routine: new Budget(settings.ratePerSecond, settings.burst),
      urgent: new Budget(settings.urgentRatePerSecond, settings.urgentBurst),
    };
  }

  /** The largest batch of one class a budget can ever admit. */
  maxBatch(budget: BudgetName): number {
    return this.budgets[budget].burst;
  }

  /** Takes `count` alerts from `source`'s budget, all or none. */
  take(budget: BudgetName, source: string, count: number): Promise<Take> {
    return count === 0 ? Promise.resolve({ ok: true }) : this.budgets[budget].take(source, count);
  }
}
