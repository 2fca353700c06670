/**
 * One operator revocation as replicas exchange and store it: the latest word on one subject (a SPIFFE ID or a
 * certificate fingerprint), revoked or lifted. Lifts are kept (as tombstones) so that an older "revoked" arriving
 * late from a slow replica, Redis or a file cannot bring a lifted revocation back.
 *
 * Records are ordered by a Lamport stamp (`seq`, then `origin`), never by a clock: every replica that has seen the
 * same records holds the same list, whatever order they arrived in and whatever the replicas' clocks say.
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
  /** The revocation stops applying at this time; null = until lifted. */
  readonly expiresAtMs: number | null;
  /** Lamport stamp: greater than every stamp the deciding replica had seen. */
  readonly seq: number;
  /** The replica that made the record (ties between equal stamps). */
  readonly origin: string;
}

/** Stamps above this are refused: the sequence can never be pushed to where it could not grow any more. */
export const MAX_SEQUENCE = 2 ** 40;
const MAX_TEXT = 1024;

export function recordKey(kind: RevocationKind, subject: string): string {
  return `${kind === "spiffeId" ? "id" : "fp"}:${subject}`;
}

/** Whether `a` supersedes `b`: a higher stamp, or the same stamp from a greater origin. */
export function supersedes(a: RevocationRecord, b: RevocationRecord): boolean {
  return a.seq > b.seq || (a.seq === b.seq && a.origin > b.origin);
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
      seq: v.seq,
      origin: v.origin,
    },
  };
}

function fail(error: string): RecordResult {
  return { ok: false, error };
}
