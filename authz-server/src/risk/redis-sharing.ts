/**
 * Risk shared between replicas through Redis (`redis.url`): every accepted alert, operator clear and feed heartbeat
 * is appended to one capped Redis stream (`<prefix>:risk:events`), and every replica reads that stream with a
 * blocking XREAD and applies what other replicas wrote. A stream rather than pub/sub gives catch-up for free: a
 * replica that lost Redis resumes from the last entry it read, and a new replica starts from the beginning (ids make
 * every event apply once, so overlap with its snapshot is harmless).
 *
 * Operator revocations do not decay, so a capped stream is not enough for them: each record also lives in a Redis
 * hash (`<prefix>:revocations`), merged by a script that keeps the record with the higher stamp and announces a
 * change on the stream. A replica reads the whole hash when it connects (before its first Check), pushes its own
 * records into it (Redis may have restarted empty), and after that learns of changes from the stream.
 *
 * Every entry read is checked: malformed, unsigned (when `redis.eventKey` is set), badly signed, or beyond ingest's
 * limits (times in the future, weights out of bounds) → counted and dropped.
 *
 * Redis is never on the decision path or the ingest path: publishing appends to an in-memory outbox flushed in
 * pipelined batches when the connection is up. When Redis is down each replica keeps deciding on its own state, logs
 * the outage once, reconnects with backoff, then flushes its outbox and catches up.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { RevocationRecord } from "../identity/revocation-record.js";
import { recordKey } from "../identity/revocation-record.js";
import type { Logger } from "../observability/logger.js";
import type { EventSigner } from "./event-signing.js";
import type { RiskMetrics, SharedRefusal } from "./risk-metrics.js";
import { decodeEvent, encodeEvent, outOfBounds, type SharedEvent } from "./shared-event.js";

/** Where revocation records come from and go to on this replica. */
export interface RevocationSink {
  records(): readonly RevocationRecord[];
  apply(record: RevocationRecord): void;
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
const MAX_OUTBOX = 100_000;

/**
 * KEYS: the revocation hash, the event stream. ARGV: field, sealed record event, its seq, its origin, stream cap,
 * event payload, signature. Stores the record unless the hash holds one with a higher stamp (or this very one), and
 * then announces it on the stream. Returns 1 when stored.
 */
const MERGE_REVOCATION = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local dot = string.find(current, '.', 1, true)
  local ok, old = pcall(cjson.decode, string.sub(current, (dot or 0) + 1))
  if ok and type(old) == 'table' and type(old.rec) == 'table' then
    local oldSeq = tonumber(old.rec.seq) or 0
    local newSeq = tonumber(ARGV[3])
    if oldSeq > newSeq or (oldSeq == newSeq and tostring(old.rec.origin) >= ARGV[4]) then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[7] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[6])
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[6], 's', ARGV[7])
end
return 1
`;

type MergingRedis = Redis & {
  mergeRevocation(
    hash: string,
    stream: string,
    field: string,
    sealed: string,
    seq: number,
    origin: string,
    maxLen: number,
    payload: string,
    signature: string,
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

export class RedisRiskSharing {
  readonly streamKey: string;
  readonly revocationsKey: string;
  private readonly reader: Redis;
  private readonly writer: MergingRedis;
  private readonly now: () => number;
  private outbox: string[] = [];
  private revocationSync: Promise<boolean> | null = null;
  private revocationsSynced: () => void = () => {};
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
    return this.outbox.length;
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
    const late = await Promise.race([
      caughtUp.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeout);
      }),
    ]);
    clearTimeout(timer);
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

  /** Shares a revocation record made or changed on this replica (now when connected, else on reconnection). */
  publishRevocation(record: RevocationRecord): void {
    if (this.stopped || this.writer.status !== "ready") return; // the sync on 'ready' pushes every record
    void this.mergeRevocations([record]).catch(() => undefined);
  }

  publish(event: SharedEvent): void {
    if (this.stopped) return;
    if (this.outbox.length >= MAX_OUTBOX) {
      this.outbox.shift();
      this.options.metrics.shared("dropped");
    }
    this.outbox.push(encodeEvent(event));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flush();
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A last flush, briefly: shutting down must not hang on an unreachable Redis.
    await Promise.race([this.flush(), sleep(1_000)]);
    this.reader.disconnect();
    this.writer.disconnect();
    await this.readLoop;
  }

  private onClose(name: string): void {
    if (this.stopped || this.lost) return;
    this.lost = true;
    this.options.logger.warn(
      { event: "redis connection lost", connection: name, pending: this.outbox.length },
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
        { event: "redis reconnected", pending: this.outbox.length, last_id: this.lastId },
        "Redis connection restored: publishing queued events and catching up",
      );
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.outbox.length > 0 && this.writer.status === "ready") {
        const batch = this.outbox.splice(0, BATCH);
        const pipeline = this.writer.pipeline();
        for (const payload of batch) {
          const signature = this.options.signer.sign(payload);
          const maxLen = String(this.options.streamMaxLen);
          if (signature === "") pipeline.xadd(this.streamKey, "MAXLEN", "~", maxLen, "*", "e", payload);
          else pipeline.xadd(this.streamKey, "MAXLEN", "~", maxLen, "*", "e", payload, "s", signature);
        }
        let failed: string[] = [];
        try {
          const results = (await pipeline.exec()) ?? [];
          failed = batch.filter((_, i) => results[i]?.[0] != null);
        } catch {
          failed = batch;
        }
        this.options.metrics.shared("published", batch.length - failed.length);
        if (failed.length > 0) {
          // Back to the front, in order; the next 'ready' flushes again. A resend can duplicate: ids dedupe it.
          this.outbox = failed.concat(this.outbox);
          break;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async read(): Promise<void> {
    let blocking = false;
    while (!this.stopped) {
      try {
        const args: Array<string | number> = blocking
          ? ["COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", this.streamKey, this.lastId]
          : ["COUNT", BATCH, "STREAMS", this.streamKey, this.lastId];
        const reply = (await this.reader.call("XREAD", ...args)) as Array<[string, Array<[string, string[]]>]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          this.lastId = id;
          this.receive(fields);
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
   */
  private syncRevocations(): Promise<boolean> {
    this.revocationSync ??= (async () => {
      try {
        await this.mergeRevocations(this.options.revocations.records());
        const all = (await this.writer.hgetall(this.revocationsKey)) as Record<string, string>;
        for (const sealed of Object.values(all)) {
          const { payload, verdict } = this.options.signer.unseal(sealed);
          this.receivePayload(payload, verdict);
        }
        this.revocationsSynced();
        return true;
      } catch {
        return false; // the connection went: the next 'ready' syncs again
      } finally {
        this.revocationSync = null;
      }
    })();
    return this.revocationSync;
  }

  private async mergeRevocations(records: readonly RevocationRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { replicaId, streamMaxLen, signer } = this.options;
    for (let i = 0; i < records.length; i += BATCH) {
      const pipeline = this.writer.pipeline() as unknown as MergingRedis & { exec(): Promise<unknown> };
      for (const record of records.slice(i, i + BATCH)) {
        const payload = encodeEvent({ kind: "revocation", origin: replicaId, record });
        const signature = signer.sign(payload);
        void pipeline.mergeRevocation(
          this.revocationsKey,
          this.streamKey,
          recordKey(record.kind, record.subject),
          `${signature}.${payload}`,
          record.seq,
          record.origin,
          streamMaxLen,
          payload,
          signature,
        );
      }
      await pipeline.exec();
    }
  }

  private receive(fields: string[]): void {
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
    this.receivePayload(payload, this.options.signer.verify(payload, signature));
  }

  private receivePayload(payload: string, verdict: "ok" | "unsigned" | "bad_signature"): void {
    if (verdict !== "ok") {
      this.refuse(verdict);
      return;
    }
    const event = decodeEvent(payload);
    if (event === null) {
      this.refuse("malformed");
      return;
    }
    const problem = outOfBounds(event, this.now());
    if (problem !== null) {
      this.refuse("out_of_bounds", problem, event);
      return;
    }
    if (event.kind === "revocation") {
      this.options.revocations.apply(event.record);
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
