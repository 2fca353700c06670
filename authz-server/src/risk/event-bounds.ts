/**
 * The limits every risk event is held to, whether it was ingested here, read from Redis or restored from a file:
 * times no further ahead of this replica's clock than a small skew, event times within a bounded delay of receipt,
 * finite bounded weights, so no score can overflow and nothing can stay "fresh" or "critical" for years.
 */
import type { RiskAlert } from "./risk-alert.js";

/**
 * Decay starts at the alert's event time, but never more than this before we received it: a Falco clock running
 * behind, or a backed-up Falco output queue, must not make news we just got count as old (or skip the Critical lift).
 */
export const MAX_ALERT_DELAY_MS = 60_000;

/** How far ahead of this replica's clock another replica's times may be (clocks of a cluster agree within this). */
export const MAX_CLOCK_SKEW_MS = 5_000;

/**
 * How far another replica's clock may be from Redis's for its times to be moved onto this replica's clock (see
 * shared-event.ts): clocks a few minutes off are an operations problem that must not cost a deny; a day is not a
 * clock that is off but an event that is not believable.
 */
export const MAX_SENDER_OFFSET_MS = 86_400_000;

/** The largest weight an alert can carry (configuration is held to it too). */
export const MAX_WEIGHT = 1_000_000;

/** Scores are kept below this: a sum of bounded, decaying weights, so always finite. */
export const MAX_SCORE = MAX_WEIGHT * 1_000;

/** The most alert ids an operator clear names (a workload keeps at most 256 alerts of up to 8 ids each by default). */
export const MAX_CLEAR_IDS = 4096;

/** Between 0 and MAX_WEIGHT; NaN counts as 0. */
export function boundedWeight(weight: number): number {
  return Number.isNaN(weight) ? 0 : Math.min(MAX_WEIGHT, Math.max(0, weight));
}

/** Between 0 and MAX_SCORE; NaN counts as 0. */
export function boundedScore(score: number): number {
  return Number.isNaN(score) ? 0 : Math.min(MAX_SCORE, Math.max(0, score));
}

/** Why another replica's alert is not believable at `nowMs`, or null when it is within bounds. */
export function alertOutOfBounds(alert: RiskAlert, nowMs: number): string | null {
  if (alert.receivedMs > nowMs + MAX_CLOCK_SKEW_MS) return "received in the future";
  if (alert.eventMs > alert.receivedMs) return "event time after receipt";
  if (alert.eventMs < alert.receivedMs - MAX_ALERT_DELAY_MS) return "event time too long before receipt";
  if (!(alert.weight >= 0 && alert.weight <= MAX_WEIGHT)) return "weight out of bounds";
  return null;
}

/** Why a shared time (a heartbeat, a clear) is not believable at `nowMs`, or null. */
export function timeOutOfBounds(atMs: number, nowMs: number): string | null {
  return atMs > nowMs + MAX_CLOCK_SKEW_MS ? "in the future" : null;
}
