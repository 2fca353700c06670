/**
 * The revocation list: operator revocations (kept as records, see revocation-record.ts) and the list the wasm
 * filters poll (`GET /v1/revocations`): revoked identities and fingerprints, plus identities currently at critical
 * Falco risk.
 *
 * Plain memory with a replication interface and no I/O: `revoke`/`lift` make a record for a request taken here,
 * `apply` merges a record from anywhere else (file, Redis, another process), `records` is the whole state to store or
 * hand over. Merging keeps the record that supersedes (revocation-record.ts: the higher stamp, except that a lift
 * overrides only the revocation it lifted and older ones), so replicas that saw the same records agree.
 *
 * The served list's version is a digest of its content: every replica serving the same list serves the same bytes
 * and the same ETag, across restarts, whatever its clock.
 */
import { createHash } from "node:crypto";
import { type IdentityNames, SINGLE_NAMES } from "./identity-names.js";
import {
  isRevocableIdentity,
  MAX_SEQUENCE,
  type RevocationKind,
  type RevocationRecord,
  recordKey,
  supersedes,
} from "./revocation-record.js";

export interface RevocationSnapshot {
  /** 1 to 2^52: a digest of the content (equal lists ⇔ equal versions, on every replica). */
  readonly version: number;
  readonly spiffeIds: readonly string[];
  readonly fingerprints: readonly string[];
  /** The exact JSON body served, keys in the documented order, no whitespace. */
  readonly body: string;
  /** `"<version>"`. */
  readonly etag: string;
}

export interface RevocationRequest {
  readonly kind: RevocationKind;
  readonly subject: string;
  readonly reason: string;
  readonly by: string;
  readonly expiresAtMs: number | null;
}

/** How many records (revocations and lifts) a list holds at most; a revocation beyond is refused. */
export const MAX_RECORDS = 50_000;

/** The version of a list: 52 bits of the SHA-256 of its content, plus one (the filter wants a positive integer). */
export function listVersion(spiffeIds: readonly string[], fingerprints: readonly string[]): number {
  const digest = createHash("sha256")
    .update(JSON.stringify([spiffeIds, fingerprints]))
    .digest();
  return digest.readUIntBE(0, 6) * 16 + (digest[6]! >> 4) + 1;
}

/** Stamps count milliseconds from 2020 (ms since 1970 would not fit under MAX_SEQUENCE, 2^40: year 2054 here). */
const STAMP_EPOCH_MS = Date.UTC(2020, 0, 1);

function wallStamp(nowMs: number): number {
  return Math.floor(nowMs - STAMP_EPOCH_MS);
}

export class RevocationList {
  /** Per kind, by subject: a lookup on the decision path builds no key. */
  private readonly byKind: Readonly<Record<RevocationKind, Map<string, RevocationRecord>>> = {
    spiffeId: new Map(),
    fingerprint: new Map(),
  };
  private recordCount = 0;
  private revokedCount = 0;
  private clock = 0;
  private changes = 0;
  private served: {
    snapshot: RevocationSnapshot;
    changes: number;
    critical: Iterable<string>;
    untilMs: number;
  } | null = null;

  private readonly listeners: Array<(record: RevocationRecord) => void> = [];

  constructor(
    /** Identities at critical risk right now (from the risk engine). */
    private readonly criticalIdentities: () => Iterable<string> = () => [],
    private readonly now: () => number = Date.now,
    /** Trust-domain aliases: a revocation covers every name of the workload, and the served list carries each. */
    private readonly names: IdentityNames = SINGLE_NAMES,
  ) {}

  // --- requests taken on this replica: each returns the record to store and share --------------------------------

  /**
   * Null when the list is full, or when the stamps are exhausted (a record stamped at MAX_SEQUENCE already holds the
   * subject): never a record that is not in force.
   */
  revoke(request: RevocationRequest, origin: string): RevocationRecord | null {
    if (!this.byKind[request.kind].has(request.subject) && this.recordCount >= MAX_RECORDS) return null;
    const atMs = this.now();
    const record: RevocationRecord = {
      ...request,
      revoked: true,
      atMs,
      ...(request.expiresAtMs === null ? {} : { ttlMs: Math.max(1, request.expiresAtMs - atMs) }),
      seq: this.nextStamp(),
      origin,
    };
    return this.apply(record) ? record : null;
  }

  /** Null when the subject is not revoked now (or, at the stamp bound, when the lift could not win). */
  lift(kind: RevocationKind, subject: string, by: string, origin: string): RevocationRecord | null {
    const current = this.active(kind, subject);
    if (current === undefined) return null;
    const record: RevocationRecord = {
      kind,
      subject,
      revoked: false,
      reason: "",
      by,
      atMs: this.now(),
      expiresAtMs: null,
      seq: this.nextStamp(),
      origin,
      // What this lift overrides: the revocation in force here, and older ones; never one it has not seen.
      lifts: current.seq,
    };
    return this.apply(record) ? record : null;
  }

  /**
   * Above every stamp seen and at least this replica's clock (a hybrid logical clock), saturating at the bound (a
   * stamp above it would be refused on reading). The clock part is what lets a revocation made during a partition
   * on a quiet replica (few records seen, a low Lamport count) outrank the revocation a lift on a busy one lifted:
   * "made later" then holds across replicas, up to their clock skew, while the order stays total (replicas converge).
   */
  private nextStamp(): number {
    return Math.min(Math.max(this.clock + 1, wallStamp(this.now())), MAX_SEQUENCE);
  }

  // --- replication ------------------------------------------------------------------------------------------------

  /** Called with every record that changed this list, from wherever it came (worker processes apply the same). */
  onApplied(listener: (record: RevocationRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Merges a record; true when it replaced what this list held (false: this list already knew as much). */
  apply(record: RevocationRecord): boolean {
    if (record.seq > this.clock) this.clock = record.seq;
    const map = this.byKind[record.kind];
    const current = map.get(record.subject);
    if (current !== undefined && !supersedes(record, current)) return false;
    if (current === undefined) {
      if (this.recordCount >= MAX_RECORDS) return false;
      this.recordCount += 1;
    }
    this.revokedCount += Number(record.revoked) - Number(current?.revoked ?? false);
    map.set(record.subject, record);
    this.changes += 1;
    for (const listener of this.listeners) listener(record);
    return true;
  }

  /** Every record, lifts included, in key order: the state to store or hand to another process. */
  records(): RevocationRecord[] {
    const keyed: Array<[string, RevocationRecord]> = [];
    for (const map of Object.values(this.byKind))
      for (const r of map.values()) keyed.push([recordKey(r.kind, r.subject), r]);
    return keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  }

  /** The highest stamp seen: the next record made here is stamped above it. */
  get sequence(): number {
    return this.clock;
  }

  get size(): number {
    return this.recordCount;
  }

  // --- the decision path ------------------------------------------------------------------------------------------

  /** Any record says revoked (perhaps expired): a cheap test before the lookups. */
  get hasOperatorRevocations(): boolean {
    return this.revokedCount > 0;
  }

  /** The operator revocation of an identity in force now (not risk): the decision path refuses these. */
  identityRevocation(spiffeId: string): RevocationRecord | undefined {
    if (!this.names.aliased) return this.active("spiffeId", spiffeId);
    for (const name of this.names.names(spiffeId)) {
      const revoked = this.active("spiffeId", name);
      if (revoked !== undefined) return revoked;
    }
    return undefined;
  }

  fingerprintRevocation(fingerprint: string): RevocationRecord | undefined {
    return this.active("fingerprint", fingerprint);
  }

  /** Revocations in force now, for operators. */
  operatorRevocations(): RevocationRecord[] {
    const now = this.now();
    return this.records().filter((r) => inForce(r, now));
  }

  // --- the list the wasm filters poll ------------------------------------------------------------------------------

  snapshot(): RevocationSnapshot {
    const now = this.now();
    const critical = this.criticalIdentities();
    const served = this.served;
    if (served !== null && served.changes === this.changes && served.critical === critical && now < served.untilMs) {
      return served.snapshot;
    }
    const ids = new Set<string>();
    const fingerprints: string[] = [];
    let untilMs = Number.POSITIVE_INFINITY;
    for (const map of Object.values(this.byKind)) {
      for (const r of map.values()) {
        if (!inForce(r, now)) continue;
        if (r.expiresAtMs !== null && r.expiresAtMs < untilMs) untilMs = r.expiresAtMs;
        if (r.kind === "spiffeId") for (const name of this.names.names(r.subject)) ids.add(name);
        else fingerprints.push(r.subject);
      }
    }
    for (const id of critical) if (isRevocableIdentity(id)) for (const name of this.names.names(id)) ids.add(name);
    const spiffeIds = [...ids].sort();
    fingerprints.sort();
    let snapshot = served?.snapshot;
    if (snapshot === undefined || !sameList(snapshot, spiffeIds, fingerprints)) {
      const version = listVersion(spiffeIds, fingerprints);
      snapshot = {
        version,
        spiffeIds,
        fingerprints,
        body: JSON.stringify({ version, spiffeIds, fingerprints }),
        etag: `"${version}"`,
      };
    }
    this.served = { snapshot, changes: this.changes, critical, untilMs };
    return snapshot;
  }

  private active(kind: RevocationKind, subject: string): RevocationRecord | undefined {
    const record = this.byKind[kind].get(subject);
    return record !== undefined && inForce(record, this.now()) ? record : undefined;
  }
}

function inForce(r: RevocationRecord, now: number): boolean {
  return r.revoked && (r.expiresAtMs === null || now < r.expiresAtMs);
}

function sameList(s: RevocationSnapshot, spiffeIds: readonly string[], fingerprints: readonly string[]): boolean {
  return (
    s.spiffeIds.length === spiffeIds.length &&
    s.fingerprints.length === fingerprints.length &&
    s.spiffeIds.every((v, i) => v === spiffeIds[i]) &&
    s.fingerprints.every((v, i) => v === fingerprints[i])
  );
}
