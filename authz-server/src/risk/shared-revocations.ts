/**
 * Operator revocations kept in step with the revocation file and the other replicas: a revocation or lift taken
 * here is applied to the list, written to the file (the request is answered after that) and shared through Redis;
 * a record from another replica is merged and written too. Restored from the file before Redis is read, and both
 * before the first Check.
 */
import type { RevocationList, RevocationRequest } from "../identity/revocation-list.js";
import {
  localizeExpiry,
  MAX_SEQUENCE,
  type RevocationKind,
  type RevocationRecord,
} from "../identity/revocation-record.js";
import type { Logger } from "../observability/logger.js";
import type { RedisRiskSharing, RevocationSink } from "./redis-sharing.js";
import type { RevocationStore } from "./revocation-store.js";

export interface SharedRevocationsDeps {
  readonly list: RevocationList;
  readonly store: RevocationStore | null;
  readonly logger: Logger;
  readonly replicaId: string;
  readonly now?: () => number;
}

export type RevocationChange =
  | { ok: true; record: RevocationRecord; persisted: boolean; error?: string }
  | { ok: false; status: number; error: string };

export class SharedRevocations implements RevocationSink {
  private sharing: RedisRiskSharing | null = null;
  private writing: Promise<unknown> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(private readonly deps: SharedRevocationsDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  get list(): RevocationList {
    return this.deps.list;
  }

  /** Where revocations survive a restart: the file, Redis, both, or nowhere. */
  get durability(): { file: string | null; redis: boolean } {
    return { file: this.deps.store?.file ?? null, redis: this.sharing !== null };
  }

  /** Redis sharing is created after this (it needs this as its sink). */
  share(sharing: RedisRiskSharing): void {
    this.sharing = sharing;
  }

  /** Loads the revocation file (throws when it is unusable). */
  async restore(): Promise<void> {
    const { store, list, logger } = this.deps;
    if (store === null) return;
    const records = await store.load();
    for (const record of records) list.apply(record);
    if (records.length > 0) {
      logger.info(
        {
          event: "revocations loaded",
          file: store.file,
          records: records.length,
          in_force: list.operatorRevocations().length,
        },
        `operator revocations restored from ${store.file}`,
      );
    }
  }

  /** Waits for the revocation file write under way or queued (at shutdown). */
  async flush(): Promise<void> {
    await (this.queued ?? this.writing).catch(() => undefined);
  }

  // --- requests taken here ---------------------------------------------------------------------------------------

  async revoke(request: RevocationRequest): Promise<RevocationChange> {
    const { list } = this.deps;
    const record = list.revoke(request, this.deps.replicaId);
    if (record === null) {
      return {
        ok: false,
        status: 409,
        error:
          list.sequence >= MAX_SEQUENCE
            ? `the revocation stamps are exhausted (a record is stamped ${MAX_SEQUENCE}): this change could not take effect`
            : "the revocation list is full: lift revocations that are no longer needed",
      };
    }
    return this.changed(record);
  }

  async lift(kind: RevocationKind, subject: string, by: string): Promise<RevocationChange | null> {
    const record = this.deps.list.lift(kind, subject, by, this.deps.replicaId);
    return record === null ? null : this.changed(record);
  }

  private async changed(record: RevocationRecord): Promise<RevocationChange> {
    this.sharing?.publishRevocation(record);
    try {
      await this.persist();
      return { ok: true, record, persisted: this.deps.store !== null };
    } catch (err) {
      return { ok: true, record, persisted: false, error: (err as Error).message };
    }
  }

  // --- the replication sink (Redis) -----------------------------------------------------------------------------

  records(): readonly RevocationRecord[] {
    return this.deps.list.records();
  }

  get size(): number {
    return this.deps.list.size;
  }

  /** Whether revocations were restored from a file (else a replica must read Redis's before its first Check). */
  get durable(): boolean {
    return this.deps.store !== null;
  }

  /** `live`: received as it happened, not read from what Redis kept (see localizeExpiry). */
  apply(received: RevocationRecord, live = true): void {
    const record = localizeExpiry(received, this.now(), live);
    if (!this.deps.list.apply(record)) return;
    this.deps.logger.warn(
      {
        event: record.revoked ? "revocation from another replica" : "revocation lifted on another replica",
        kind: record.kind,
        subject: record.subject,
        reason: record.reason,
        by: record.by,
        origin: record.origin,
      },
      `${record.kind} ${record.subject} ${record.revoked ? "revoked" : "restored"} by an operator on another replica`,
    );
    this.persist().catch(() => undefined);
  }

  // --- the file ---------------------------------------------------------------------------------------------------

  /** Writes the list after any write under way; changes made meanwhile share one write. */
  private persist(): Promise<void> {
    const { store, list, logger } = this.deps;
    if (store === null) return Promise.resolve();
    if (this.queued !== null) return this.queued;
    const queued = (async () => {
      await this.writing;
      this.queued = null; // from here on, a change needs another write
      const write = store.save(list.records());
      this.writing = write.catch(() => undefined);
      try {
        await write;
      } catch (err) {
        logger.error(
          { event: "revocation file write failed", file: store.file, error: (err as Error).message },
          "could not write the revocation file: revocations are in force but would not survive a restart",
        );
        throw err;
      }
    })();
    this.queued = queued;
    return queued;
  }
}
