/**
 * Risk shared between replicas through Redis (`redis.url`): every accepted alert, operator clear and feed heartbeat
 * is appended to one capped Redis stream (`<prefix>:risk:events`), and every replica reads that stream with a
 * blocking XREAD and applies what other replicas wrote. A stream rather than pub/sub gives catch-up for free: a
 * replica that lost Redis resumes from the last entry it read, and a new replica starts from the beginning (ids make
 * every event apply once, so overlap with its snapshot is harmless).
 *
 * Operator revocations do not decay, so a capped stream is not enough for them: each record also lives in a Redis
 * hash (`<prefix>:revocations`), merged by a script that keeps the record that supersedes (revocation-record.ts's
 * order) and announces a change on the stream. A replica reads the whole hash when it connects (before its first Check), pushes its own
 * records into it (Redis may have restarted empty), and after that learns of changes from the stream.
 *
 * Every entry read is checked: malformed, unsigned (when `redis.eventKey` is set), badly signed, or beyond ingest's
 * limits (times in the future, weights out of bounds) → counted and dropped.
 *
 * Redis is never on the decision path or the ingest path: publishing appends to an in-memory outbox flushed in
 * pipelined batches when the connection is up. When Redis is down each replica keeps deciding on its own state, logs
 * the outage once, reconnects with backoff, then flushes its outbox and catches up.
 */

import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { RevocationRecord } from "../identity/revocation-record.js";
import { orderKey, recordKey, supersedes } from "../identity/revocation-record.js";
import type { Logger } from "../observability/logger.js";
import { RetryTimer } from "../util/retry-timer.js";
import { within } from "../util/within.js";
import type { EventSigner } from "./event-signing.js";
import { Outbox } from "./outbox.js";
import type { RiskMetrics, SharedRefusal } from "./risk-metrics.js";
import { decodeEvent, encodeEvent, entryIdMs, outOfBounds, type SharedEvent } from "./shared-event.js";

/** Where revocation records come from and go to on this replica. */
export interface RevocationSink {
  records(): readonly RevocationRecord[];
  /** `live`: received as it happened (not this replica's first read of what Redis kept): see localizeExpiry. */
  apply(record: RevocationRecord, live?: boolean): void;
  /** How many records `records()` would return (a cheap count for the periodic check). */
  readonly size?: number;
  /**
   * Whether this replica restored its revocations from a file. false: it knows none until it has read Redis's, so
   * start() waits for that read while Redis is connected but slow (a Check answered before would let revoked
   * identities in). Unset: like true.
   */
  readonly durable?: boolean;
}

export interface RedisSharingOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly streamMaxLen: number;
  /** This replica's id: its own events coming back from the stream are skipped. */
  readonly replicaId: string;
  /** Risk events (alerts, clears, heartbeats) from other replicas. */
  readonly apply: (event: SharedEvent) => void;
  readonly revocations: RevocationSink;
  readonly signer: EventSigner;
  readonly logger: Logger;
  readonly metrics: RiskMetrics;
  /** How long start() waits to catch up with the stream before the server starts anyway. */
  readonly startTimeoutMs?: number;
  readonly now?: () => number;
}

const BATCH = 500;
const BLOCK_MS = 5_000;
/** Routine events (alerts below Critical) held while Redis is unreachable; the oldest go first beyond this. */
const MAX_OUTBOX = 100_000;
/** Critical-or-above alerts and operator clears held while Redis is unreachable: a queue of their own. */
const MAX_URGENT_OUTBOX = 100_000;

/** How often a replica checks that the revocation hash still holds at least its records (FLUSHALL, eviction). */
const REVOCATION_CHECK_MS = 1_000;
/** Retries of revocation records Redis refused (NOREPLICAS, OOM, READONLY…): from this, doubling, up to the max. */
const REVOCATION_RETRY_FIRST_MS = 200;
const REVOCATION_RETRY_MAX_MS = 5_000;

/**
 * KEYS: the revocation hash, the event stream. ARGV: 1 field, 2 sealed record event, 3-6 its order key (covers,
 * isLift, seq, origin: see orderKey in revocation-record.ts, which this mirrors), 7 stream cap, 8 event payload,
 * 9 signature ('' unsigned), 10 the SHA-1 of the hash value the replica checked before ('' none), 11 '1' when the
 * replica found that value not believable (unsigned, badly signed, malformed: it cannot be compared with).
 *
 * Stores the record unless the hash holds one that supersedes it (or this very one), and then announces it on the
 * stream. With signing, a record not stored is still announced unless the hash holds the very value the replica
 * verified (the script cannot verify a signature: a value planted since could be a forgery with a huge stamp, and
 * the replicas, which verify, must still learn the genuine record). Returns 1 stored, 2 only announced, 0 neither.
 */
const MERGE_REVOCATION = `
local function key(rec)
  local seq = tonumber(rec.seq) or 0
  if rec.revoked == false then
    return { tonumber(rec.lifts) or (seq - 1), 1, seq, tostring(rec.origin) }
  end
  return { seq, 0, seq, tostring(rec.origin) }
end
local mine = { tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] }
local current = redis.call('HGET', KEYS[1], ARGV[1])
local checked = current and ARGV[10] ~= '' and redis.sha1hex(current) == ARGV[10]
local store = true
if current and not (checked and ARGV[11] == '1') then
  local dot = string.find(current, '.', 1, true)
  local ok, old = pcall(cjson.decode, string.sub(current, (dot or 0) + 1))
  if ok and type(old) == 'table' and type(old.rec) == 'table' then
    local theirs = key(old.rec)
    store = false
    for i = 1, 4 do
      if mine[i] ~= theirs[i] then
        store = mine[i] > theirs[i]
        break
      end
    end
  end
end
if store then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
elseif ARGV[9] == '' or checked then
  return 0
end
if ARGV[9] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[8])
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[8], 's', ARGV[9])
end
if store then return 1 end
return 2
`;

type MergingRedis = Redis & {
  mergeRevocation(
    hash: string,
    stream: string,
    field: string,
    sealed: string,
    covers: number,
    isLift: number,
    seq: number,
    origin: string,
    maxLen: number,
    payload: string,
    signature: string,
    checkedSha1: string,
    untrusted: string,
  ): Promise<number>;
};

function connectionOptions(extra: RedisOptions): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: 2_000,
    // Reconnect forever, quickly at first: a replica must find Redis again by itself.
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    ...extra,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Outbox retries while Redis refuses writes with the connection up (NOREPLICAS, OOM, READONLY): 100 ms … 2 s. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;

export class RedisRiskSharing {
  readonly streamKey: string;
  readonly revocationsKey: string;
  private readonly reader: Redis;
  private readonly writer: MergingRedis;
  private readonly now: () => number;
  private readonly outbox = new Outbox(MAX_URGENT_OUTBOX, MAX_OUTBOX);
  /** Flushes the outbox again while Redis refuses writes with the connection up. */
  private readonly outboxRetry = new RetryTimer(RETRY_FIRST_MS, RETRY_MAX_MS);
  private droppedSinceLog = 0;
  private lastDropLogMs = 0;
  /** Ends a read loop waiting on Redis (stop() must not wait for a command queued while disconnected). */
  private halt: () => void = () => {};
  private readonly halted = new Promise<null>((resolve) => {
    this.halt = () => resolve(null);
  });
  private revocationSync: Promise<boolean> | null = null;
  private revocationsSynced: () => void = () => {};
  /** After this replica's first read of the hash: records received from then on are live (see localizeExpiry). */
  private revocationsLive = false;
  /** Records made or changed here not yet written to Redis (refused, or sent while disconnected), by key. */
  private readonly pendingRevocations = new Map<string, RevocationRecord>();
  private writingRevocations = false;
  /** Writes the pending revocation records again while Redis refuses them. */
  private readonly revocationRetry = new RetryTimer(REVOCATION_RETRY_FIRST_MS, REVOCATION_RETRY_MAX_MS);
  private revocationCheck: NodeJS.Timeout | null = null;
  private flushing = false;
  private flushScheduled = false;
  private stopped = false;
  private lastId = "0";
  private readLoop: Promise<void> | null = null;
  private caughtUp: () => void = () => {};
  private lost = false;

  constructor(private readonly options: RedisSharingOptions) {
    this.streamKey = `${options.keyPrefix}:risk:events`;
    this.revocationsKey = `${options.keyPrefix}:revocations`;
    this.now = options.now ?? Date.now;
    // The reader blocks in XREAD; its command waits across reconnects instead of failing.
    this.reader = new Redis(options.url, connectionOptions({ maxRetriesPerRequest: null }));
    // The writer fails fast while disconnected: the outbox holds events until it is back.
    this.writer = new Redis(
      options.url,
      connectionOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 0 }),
    ) as MergingRedis;
    this.writer.defineCommand("mergeRevocation", { numberOfKeys: 2, lua: MERGE_REVOCATION });
    for (const [name, connection] of [
      ["reader", this.reader],
      ["writer", this.writer],
    ] as const) {
      // Errors while reconnecting are expected during an outage; the state changes below are what get logged.
      connection.on("error", () => undefined);
      connection.on("close", () => this.onClose(name));
      connection.on("ready", () => this.onReady(name));
    }
  }

  get connected(): boolean {
    return this.reader.status === "ready" && this.writer.status === "ready";
  }

  /** Whether events are signed (and unsigned ones refused). */
  get signed(): boolean {
    return this.options.signer.enabled;
  }

  get pending(): number {
    return this.outbox.size;
  }

  /**
   * Connects, reads the shared revocations and catches up with the stream (bounded wait); never throws for an
   * unreachable Redis.
   */
  async start(): Promise<void> {
    const streamCaughtUp = new Promise<void>((resolve) => {
      this.caughtUp = resolve;
    });
    const revocationsRead = new Promise<void>((resolve) => {
      this.revocationsSynced = resolve;
    });
    const caughtUp = Promise.all([streamCaughtUp, revocationsRead]);
    this.writer.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
    this.readLoop = this.read();
    const timeout = this.options.startTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    let late = await Promise.race([
      caughtUp.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeout);
      }),
    ]);
    clearTimeout(timer);
    this.revocationCheck ??= setInterval(() => void this.checkRevocations(), REVOCATION_CHECK_MS).unref();
    if (late && this.options.revocations.durable === false && this.redisSlow()) {
      // No revocation file: until the hash is read this replica knows no revocation at all. Redis is there but slow
      // (a long fork, CLIENT PAUSE during a failover): wait, not serving, rather than let revoked identities in.
      this.options.logger.warn(
        { event: "waiting for shared revocations", hash: this.revocationsKey },
        "Redis is connected but slow and there is no revocations.file: waiting for the shared revocations before serving",
      );
      late = !(await this.awaitRevocations(revocationsRead));
    }
    if (late) {
      this.options.logger.warn(
        { event: "redis unavailable at start-up", stream: this.streamKey },
        `Redis not reachable within ${timeout} ms: starting with local risk state only; will catch up when it is`,
      );
    } else {
      this.options.logger.info(
        { event: "risk sharing connected", stream: this.streamKey, last_id: this.lastId },
        "risk sharing through Redis connected and caught up",
      );
    }
  }

  /**
   * Shares a revocation record made or changed on this replica: kept pending until Redis has taken it (now when
   * connected; a refused write is retried with backoff; else on reconnection, whose sync pushes every record).
   */
  publishRevocation(record: RevocationRecord): void {
    if (this.stopped) return;
    this.pendingRevocations.set(recordKey(record.kind, record.subject), record);
    void this.writePendingRevocations();
  }

  /** Revocation records not yet written to Redis. */
  get pendingRevocationCount(): number {
    return this.pendingRevocations.size;
  }

  publish(event: SharedEvent): void {
    if (this.stopped) return;
    const dropped = this.outbox.push(event);
    if (dropped !== null) this.dropped(dropped);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flush();
      });
    }
  }

  /** Counted always; logged at error at most every 10 s (with how many went since the last line). */
  private dropped(event: SharedEvent): void {
    this.options.metrics.shared("dropped");
    this.droppedSinceLog += 1;
    const now = this.now();
    if (now - this.lastDropLogMs < 10_000) return;
    this.lastDropLogMs = now;
    this.options.logger.error(
      {
        event: "shared risk events dropped",
        dropped: this.droppedSinceLog,
        kind: event.kind,
        priority: event.kind === "alert" ? event.alert.priority : undefined,
        pending: this.outbox.size,
      },
      "the Redis outbox is full: dropped the oldest queued events of the lowest priority; other replicas will not see them",
    );
    this.droppedSinceLog = 0;
  }

  /**
   * Stops sharing without ever hanging on Redis: a last flush and the read loop each get at most a second (the read
   * loop's XREAD may sit in the offline queue of a connection that will never come back).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt();
    this.outboxRetry.cancel();
    this.revocationRetry.cancel();
    if (this.revocationCheck !== null) clearInterval(this.revocationCheck);
    this.revocationCheck = null;
    await within(this.flush(), 1_000);
    this.reader.disconnect();
    this.writer.disconnect();
    await within(this.readLoop ?? Promise.resolve(), 1_000);
    if (this.outbox.size > 0) {
      this.options.logger.warn(
        { event: "shared risk events not published", pending: this.outbox.size },
        "stopped with risk events not yet published to Redis (other replicas learn them only from their own sources)",
      );
    }
  }

  private onClose(name: string): void {
    if (this.stopped || this.lost) return;
    this.lost = true;
    this.options.logger.warn(
      { event: "redis connection lost", connection: name, pending: this.outbox.size },
      "lost the Redis connection: deciding on local risk state, reconnecting",
    );
  }

  private onReady(name: string): void {
    if (name === "writer") {
      void this.flush();
      void this.syncRevocations();
    }
    if (this.lost && this.connected) {
      this.lost = false;
      this.options.logger.info(
        { event: "redis reconnected", pending: this.outbox.size, last_id: this.lastId },
        "Redis connection restored: publishing queued events and catching up",
      );
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    let failedAny = false;
    try {
      while (this.outbox.size > 0 && this.writer.status === "ready") {
        const batch = this.outbox.take(BATCH);
        const pipeline = this.writer.pipeline();
        // Each event says when it was handed to Redis on this clock, so receivers can place its times on theirs.
        const sentMs = this.now();
        const maxLen = String(this.options.streamMaxLen);
        for (const event of batch) {
          const payload = encodeEvent(event, sentMs);
          const signature = this.options.signer.sign(payload);
          if (signature === "") pipeline.xadd(this.streamKey, "MAXLEN", "~", maxLen, "*", "e", payload);
          else pipeline.xadd(this.streamKey, "MAXLEN", "~", maxLen, "*", "e", payload, "s", signature);
        }
        let failed: SharedEvent[] = [];
        try {
          const results = (await pipeline.exec()) ?? [];
          failed = batch.filter((_, i) => results[i]?.[0] != null);
        } catch {
          failed = batch;
        }
        this.options.metrics.shared("published", batch.length - failed.length);
        if (failed.length > 0) {
          // Back to the front of their queues; a resend can duplicate: ids dedupe it.
          this.outbox.putBack(failed);
          failedAny = true;
          break;
        }
      }
    } finally {
      this.flushing = false;
    }
    // Redis refused writes with the connection up (NOREPLICAS, OOM, READONLY): no 'ready' will come to flush again,
    // so retry on a timer, backing off. A dropped connection is retried on 'ready' (and by the timer, harmlessly).
    if (!failedAny) this.outboxRetry.succeeded();
    else if (!this.stopped) this.outboxRetry.failed(() => void this.flush());
  }

  private async read(): Promise<void> {
    let blocking = false;
    while (!this.stopped) {
      try {
        const args: Array<string | number> = blocking
          ? ["COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", this.streamKey, this.lastId]
          : ["COUNT", BATCH, "STREAMS", this.streamKey, this.lastId];
        // Raced with stop(): while disconnected the XREAD waits in the offline queue, possibly forever.
        const reply = (await Promise.race([this.reader.call("XREAD", ...args), this.halted])) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        if (this.stopped) break;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          this.lastId = id;
          this.receive(fields, id);
        }
        if (!blocking && entries.length < BATCH) {
          // Caught up with everything written before we started: from now on, wait for new entries.
          blocking = true;
          this.caughtUp();
        }
      } catch {
        if (this.stopped) break;
        await sleep(200);
      }
    }
  }

  /**
   * Pushes every local record into the shared hash (Redis may have restarted empty, or changes were made here while
   * it was down), then reads the hash back: afterwards this replica holds every revocation any replica stored.
   * Records Redis refuses stay pending and are retried.
   */
  private syncRevocations(): Promise<boolean> {
    this.revocationSync ??= (async () => {
      try {
        const { failed, error } = await this.mergeRevocations(this.options.revocations.records());
        for (const record of failed) this.pendingRevocations.set(recordKey(record.kind, record.subject), record);
        if (failed.length > 0) this.revocationWriteFailed(failed.length, error);
        const all = (await this.writer.hgetall(this.revocationsKey)) as Record<string, string>;
        // Before this replica's first read, what the hash holds may be long past (see localizeExpiry).
        const live = this.revocationsLive;
        for (const sealed of Object.values(all)) {
          const { payload, verdict } = this.options.signer.unseal(sealed);
          if (verdict !== "ok") {
            this.refuse(verdict);
            continue;
          }
          const event = decodeEvent(payload, { nowMs: this.now() });
          if (event?.kind !== "revocation") this.refuse("malformed");
          else this.options.revocations.apply(event.record, live);
        }
        this.revocationsLive = true;
        this.revocationsSynced();
        return true;
      } catch {
        return false; // the connection went: the next 'ready' (or the periodic check) syncs again
      } finally {
        this.revocationSync = null;
      }
    })();
    return this.revocationSync;
  }

  /** Writes the pending records; what Redis refuses stays pending, retried after a growing delay. */
  private async writePendingRevocations(): Promise<void> {
    if (this.writingRevocations || this.stopped || this.writer.status !== "ready") return;
    this.writingRevocations = true;
    try {
      while (this.pendingRevocations.size > 0 && this.writer.status === "ready") {
        const records = [...this.pendingRevocations.values()];
        const { failed, error } = await this.mergeRevocations(records);
        const refused = new Set(failed);
        for (const record of records) {
          const key = recordKey(record.kind, record.subject);
          // A newer record of the same subject may have been published meanwhile: it is still to be written.
          if (!refused.has(record) && this.pendingRevocations.get(key) === record) this.pendingRevocations.delete(key);
        }
        if (failed.length > 0) {
          this.revocationWriteFailed(failed.length, error);
          return;
        }
        if (this.revocationRetry.failing) {
          this.revocationRetry.succeeded();
          this.options.logger.info(
            { event: "revocations written to redis", hash: this.revocationsKey },
            "Redis took the revocation records it had refused",
          );
        }
      }
    } finally {
      this.writingRevocations = false;
    }
  }

  /** Logs the first refusal of a streak and schedules a retry (unref'd: it never keeps the process alive). */
  private revocationWriteFailed(count: number, error: string): void {
    if (!this.revocationRetry.failing) {
      this.options.logger.warn(
        { event: "revocation write to redis failed", records: count, error, hash: this.revocationsKey },
        "Redis refused revocation records: retrying until it takes them (other replicas learn of them only then)",
      );
    }
    if (!this.stopped) this.revocationRetry.failed(() => void this.writePendingRevocations());
  }

  /**
   * Every second, cheaply (one HLEN): the hash should hold at least as many records as this replica. Fewer means
   * Redis lost them without a restart (FLUSHALL, eviction): push every record back. Also retries a first read that
   * failed while the connection stayed up, and pending records whose retry is not scheduled.
   */
  private async checkRevocations(): Promise<void> {
    if (this.stopped || this.writer.status !== "ready" || this.revocationSync !== null) return;
    if (!this.revocationsLive) {
      await this.syncRevocations();
      return;
    }
    if (this.pendingRevocations.size > 0 && !this.revocationRetry.scheduled) void this.writePendingRevocations();
    // While Redis refuses writes, the retries of what is pending are enough: no full push every second.
    if (this.revocationRetry.failing) return;
    const held = this.options.revocations.size ?? this.options.revocations.records().length;
    if (held === 0) return;
    try {
      const stored = await this.writer.hlen(this.revocationsKey);
      if (stored >= held) return;
      this.options.logger.warn(
        { event: "revocations missing from redis", held, stored, hash: this.revocationsKey },
        "the Redis revocation hash holds fewer records than this replica (Redis lost data): pushing them back",
      );
      await this.syncRevocations();
    } catch {
      // the connection went: 'ready' syncs
    }
  }

  /** Connected, or with the socket up and the ready check unanswered: Redis is slow rather than gone. */
  private redisSlow(): boolean {
    return this.writer.status === "connect" || this.writer.status === "ready";
  }

  /** Waits for the first read of the hash while Redis stays slow; true once it is read. */
  private async awaitRevocations(read: Promise<void>): Promise<boolean> {
    let done = false;
    void read.then(() => {
      done = true;
    });
    while (!done && !this.stopped && this.redisSlow()) await sleep(50);
    return done;
  }

  /**
   * Merges records into the hash; returns those Redis did not take (a per-command error: NOREPLICAS, OOM,
   * READONLY…, or the whole pipeline failing) with the first error. With signing, the stored values are read and
   * verified first: a genuine record at least as new needs no write, and a value that is not believable (unsigned,
   * badly signed, malformed) is overwritten whatever stamp it claims.
   */
  private async mergeRevocations(
    records: readonly RevocationRecord[],
  ): Promise<{ failed: RevocationRecord[]; error: string }> {
    const failed: RevocationRecord[] = [];
    let error = "";
    const { replicaId, streamMaxLen, signer } = this.options;
    for (let i = 0; i < records.length; i += BATCH) {
      const batch = records.slice(i, i + BATCH);
      try {
        const fields = batch.map((r) => recordKey(r.kind, r.subject));
        const stored: Array<Buffer | null> = signer.enabled
          ? await this.writer.hmgetBuffer(this.revocationsKey, ...fields)
          : batch.map(() => null);
        const pipeline = this.writer.pipeline() as unknown as MergingRedis & {
          exec(): Promise<Array<[Error | null, unknown]> | null>;
        };
        const sent: RevocationRecord[] = [];
        for (const [j, record] of batch.entries()) {
          const current = stored[j] ?? null;
          let checkedSha1 = "";
          let untrusted = "";
          if (current !== null) {
            checkedSha1 = createHash("sha1").update(current).digest("hex");
            const theirs = this.believable(current.toString("utf8"), fields[j]!);
            if (theirs === null) untrusted = "1";
            else if (!supersedes(record, theirs)) continue; // Redis holds this record, or one that wins over it
          }
          const payload = encodeEvent({ kind: "revocation", origin: replicaId, record });
          const signature = signer.sign(payload);
          const [covers, isLift, seq, origin] = orderKey(record);
          void pipeline.mergeRevocation(
            this.revocationsKey,
            this.streamKey,
            fields[j]!,
            `${signature}.${payload}`,
            covers,
            isLift,
            seq,
            origin,
            streamMaxLen,
            payload,
            signature,
            checkedSha1,
            untrusted,
          );
          sent.push(record);
        }
        if (sent.length === 0) continue;
        const results = (await pipeline.exec()) ?? [];
        for (const [j, record] of sent.entries()) {
          const reply = results[j];
          const err = reply === undefined ? new Error("no reply") : reply[0];
          if (err === null) continue;
          failed.push(record);
          error ||= err.message;
        }
      } catch (err) {
        failed.push(...batch);
        error ||= (err as Error).message;
      }
    }
    return { failed, error };
  }

  /** The record a hash value holds when its signature holds and it is well-formed for `field`, else null. */
  private believable(sealed: string, field: string): RevocationRecord | null {
    const { payload, verdict } = this.options.signer.unseal(sealed);
    if (verdict !== "ok") return null;
    const event = decodeEvent(payload, { nowMs: this.now() });
    if (event?.kind !== "revocation") return null;
    return recordKey(event.record.kind, event.record.subject) === field ? event.record : null;
  }

  private receive(fields: string[], id: string): void {
    let payload: string | undefined;
    let signature: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "e") payload = fields[i + 1];
      else if (fields[i] === "s") signature = fields[i + 1];
    }
    if (payload === undefined) {
      this.refuse("malformed");
      return;
    }
    this.receivePayload(payload, this.options.signer.verify(payload, signature), entryIdMs(id));
  }

  /** `entryMs`: the stream entry's time, to which the event's times are anchored (see decodeEvent). */
  private receivePayload(payload: string, verdict: "ok" | "unsigned" | "bad_signature", entryMs?: number): void {
    if (verdict !== "ok") {
      this.refuse(verdict);
      return;
    }
    const event = decodeEvent(payload, { entryMs, nowMs: this.now() });
    if (event === null) {
      this.refuse("malformed");
      return;
    }
    if (event.kind === "revocation") {
      // Never refused for its times: records are ordered by stamps; the times of a replica whose clock runs ahead
      // are for people (and its expiry is held to the TTL on this clock: localizeExpiry).
      this.options.revocations.apply(event.record, this.revocationsLive);
      return;
    }
    const problem = outOfBounds(event, this.now());
    if (problem !== null) {
      this.refuse("out_of_bounds", problem, event);
      return;
    }
    if (event.origin === this.options.replicaId) return;
    this.options.metrics.shared("applied");
    this.options.apply(event);
  }

  private lastRefusalLogMs = 0;

  /** Counted always; logged at most every 10 s, so a poisoned stream cannot flood the log. */
  private refuse(reason: SharedRefusal, detail?: string, event?: SharedEvent): void {
    this.options.metrics.shared("invalid");
    this.options.metrics.refused(reason);
    const now = this.now();
    if (now - this.lastRefusalLogMs < 10_000) return;
    this.lastRefusalLogMs = now;
    this.options.logger.warn(
      { event: "shared event refused", reason, detail, kind: event?.kind, origin: event?.origin },
      `dropped an event read from Redis (${reason}${detail ? `: ${detail}` : ""})`,
    );
  }
}
