/**
 * One operator revocation as replicas exchange and store it: the latest word on one subject (a SPIFFE ID or a
 * certificate fingerprint), revoked or lifted. Lifts are kept (as tombstones) so that an older "revoked" arriving
 * late from a slow replica, Redis or a file cannot bring a lifted revocation back.
 *
 * Records are ordered by their stamps (`seq`, then `origin`; see `orderKey`): every replica that has seen the same
 * records holds the same list, whatever order they arrived in and whatever the replicas' clocks say. A stamp is a
 * hybrid logical clock: above every stamp its replica had seen, and at least that replica's clock in milliseconds
 * since 2020, so a record made later (beyond the replicas' clock skew) is stamped higher even on another replica.
 */
import { FINGERPRINT_FORMAT, isFingerprint } from "./fingerprint.js";
import { parseSpiffeId } from "./spiffe-id.js";

export type RevocationKind = "spiffeId" | "fingerprint";

export interface RevocationRecord {
  readonly kind: RevocationKind;
  /** The SPIFFE ID or the `sha256:<hex>` fingerprint. */
  readonly subject: string;
  /** false: the revocation was lifted. */
  readonly revoked: boolean;
  readonly reason: string;
  /** Who: the operator's own words (`by` in the request), else the admin client's address. */
  readonly by: string;
  /** When, on the clock of the replica that took the request (for people; never used to order records). */
  readonly atMs: number;
  /**
   * The revocation stops applying at this time (on the clock of the replica holding the record); null = until lifted.
   * A replica receiving a record with `ttlMs` never trusts the sender's absolute time beyond that duration from its
   * own receipt (see `localizeExpiry`): another replica's clock may be minutes off.
   */
  readonly expiresAtMs: number | null;
  /**
   * The duration the operator asked for (`expiresAtMs - atMs` on the deciding replica), carried so that each replica
   * computes the expiry on its own clock. Absent on records from older versions (their `expiresAtMs` is trusted).
   */
  readonly ttlMs?: number;
  /** Hybrid stamp: greater than every stamp the deciding replica had seen, at least its clock (ms since 2020). */
  readonly seq: number;
  /** The replica that made the record (ties between equal stamps). */
  readonly origin: string;
  /**
   * On a lift only: the stamp of the revocation it lifted. A lift overrides that revocation and older ones, never a
   * revocation stamped above it (made concurrently on a replica that had not seen the lift's target, e.g. during a
   * partition). Absent on lifts from older versions: `seq - 1` (every revocation stamped before the lift).
   */
  readonly lifts?: number;
}

/**
 * Stamps above this are refused. A replica's own stamps saturate at it (never above: it would write records its own
 * reader refuses); a request whose record could not win at the bound is refused rather than answered and ignored.
 */
export const MAX_SEQUENCE = 2 ** 40;
const MAX_TEXT = 1024;

export function recordKey(kind: RevocationKind, subject: string): string {
  return `${kind === "spiffeId" ? "id" : "fp"}:${subject}`;
}

/** The stamp of the revocation a lift overrides (and every one below it); for a revocation, its own stamp. */
export function liftedStamp(r: RevocationRecord): number {
  return r.revoked ? r.seq : (r.lifts ?? r.seq - 1);
}

/**
 * The order records of one subject merge by (the same in the Redis merge script): `[covers, isLift, seq, origin]`
 * compared in turn, the greater wins. A revocation covers its own stamp, a lift the stamp of what it lifted, so a lift
 * beats the revocation it lifted and older ones, and a revocation stamped above what a lift lifted beats the lift.
 * A total order: replicas that saw the same records keep the same one, whatever the order they arrived in.
 */
export function orderKey(r: RevocationRecord): [number, number, number, string] {
  return [liftedStamp(r), r.revoked ? 0 : 1, r.seq, r.origin];
}

/** Whether `a` supersedes `b` (see `orderKey`). */
export function supersedes(a: RevocationRecord, b: RevocationRecord): boolean {
  const [ka, kb] = [orderKey(a), orderKey(b)];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! > kb[i]!;
  return false;
}

/**
 * The record as this replica holds it once received at `nowMs`: with a TTL, the expiry is never later than `nowMs`
 * plus the TTL (a sender whose clock runs ahead cannot make a revocation last longer than asked). `live`: received as
 * it happened (the event stream, the hash after this replica's first read): the revocation runs its TTL from now,
 * whatever the sender's clock said (one running behind would have it expired on arrival). Not live (this replica's
 * first read of the hash, which may hold records made long ago): the sender's expiry, if earlier, is kept.
 */
export function localizeExpiry(r: RevocationRecord, nowMs: number, live: boolean): RevocationRecord {
  if (!r.revoked || r.expiresAtMs === null || r.ttlMs === undefined) return r;
  // Never beyond what a reader accepts (a record this replica writes to its file must load again).
  const fromNow = Math.min(nowMs + r.ttlMs, Number.MAX_SAFE_INTEGER);
  const expiresAtMs = live ? fromNow : Math.min(r.expiresAtMs, fromNow);
  return expiresAtMs === r.expiresAtMs ? r : { ...r, expiresAtMs };
}

/** The wasm filter refuses a whole list over one bad entry, so only workload IDs (with a path) are ever served. */
export function isRevocableIdentity(spiffeId: string): boolean {
  const parsed = parseSpiffeId(spiffeId);
  return parsed.ok && parsed.id.path !== "";
}

/** Why `subject` cannot be revoked as `kind`, or null when it can. */
export function subjectError(kind: RevocationKind, subject: string): string | null {
  if (kind === "fingerprint") return isFingerprint(subject) ? null : `fingerprint must be ${FINGERPRINT_FORMAT}`;
  const parsed = parseSpiffeId(subject);
  if (!parsed.ok) return `spiffeId: ${parsed.error}`;
  return parsed.id.path === "" ? "spiffeId: a workload ID has a path" : null;
}

export type RecordResult = { ok: true; record: RevocationRecord } | { ok: false; error: string };

function text(v: unknown, allowEmpty: boolean): v is string {
  return typeof v === "string" && v.length <= MAX_TEXT && (allowEmpty || v.length > 0);
}

function time(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Validates a record read from a file or another replica (everything checked: none of it is trusted). */
export function parseRevocationRecord(value: unknown): RecordResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("not an object");
  const v = value as Record<string, unknown>;
  if (v.kind !== "spiffeId" && v.kind !== "fingerprint") return fail("kind must be spiffeId or fingerprint");
  if (typeof v.subject !== "string") return fail("subject must be a string");
  const bad = subjectError(v.kind, v.subject);
  if (bad !== null) return fail(bad);
  if (typeof v.revoked !== "boolean") return fail("revoked must be true or false");
  if (!text(v.reason, !v.revoked)) return fail("reason must be a string of at most 1024 characters");
  if (!text(v.by, true)) return fail("by must be a string of at most 1024 characters");
  if (!time(v.atMs)) return fail("atMs must be a time in milliseconds");
  if (v.expiresAtMs !== null && !time(v.expiresAtMs)) return fail("expiresAtMs must be a time or null");
  if (typeof v.seq !== "number" || !Number.isSafeInteger(v.seq) || v.seq < 1 || v.seq > MAX_SEQUENCE) {
    return fail(`seq must be an integer from 1 to ${MAX_SEQUENCE}`);
  }
  if (!text(v.origin, false) || v.origin.length > 64) return fail("origin must be a replica id");
  // Fields added after format 1: optional (older files and replicas do without), checked when present.
  if (v.ttlMs !== undefined) {
    if (!v.revoked || v.expiresAtMs === null) return fail("ttlMs belongs to an expiring revocation");
    if (!time(v.ttlMs) || v.ttlMs < 1) return fail("ttlMs must be a duration in milliseconds");
  }
  if (v.lifts !== undefined) {
    if (v.revoked) return fail("lifts belongs to a lift");
    if (!time(v.lifts) || v.lifts > v.seq) return fail("lifts must be a stamp from 0 to seq");
  }
  return {
    ok: true,
    record: {
      kind: v.kind,
      subject: v.subject,
      revoked: v.revoked,
      reason: v.reason,
      by: v.by,
      atMs: v.atMs,
      expiresAtMs: v.expiresAtMs,
      ...(v.ttlMs === undefined ? {} : { ttlMs: v.ttlMs }),
      seq: v.seq,
      origin: v.origin,
      ...(v.lifts === undefined ? {} : { lifts: v.lifts }),
    },
  };
}

function fail(error: string): RecordResult {
  return { ok: false, error };
}
