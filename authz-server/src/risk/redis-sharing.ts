/**
 * Risk shared between replicas through Redis (`redis.url`): every accepted alert, operator clear and feed heartbeat
 * is appended to one capped Redis stream (`<prefix>:risk:events`), and every replica reads that stream with a
 * blocking XREAD and applies what other replicas wrote. A stream rather than pub/sub gives catch-up for free: a
 * replica that lost Redis resumes from the last entry it read, and a new replica starts from the beginning (ids make
 * every event apply once, so overlap with its snapshot is harmless).
 *
 * Redis is never on the decision path or the ingest path: publishing appends to an in-memory outbox flushed in
 * pipelined batches when the connection is up. When Redis is down each replica keeps deciding on its own state, logs
 * the outage once, reconnects with backoff, then flushes its outbox and catches up.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../observability/logger.js";
import type { RiskMetrics } from "./risk-metrics.js";
import { decodeEvent, encodeEvent, type SharedEvent } from "./shared-event.js";

export interface RedisSharingOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly streamMaxLen: number;
  /** This replica's id: its own events coming back from the stream are skipped. */
  readonly replicaId: string;
  readonly apply: (event: SharedEvent) => void;
  readonly logger: Logger;
  readonly metrics: RiskMetrics;
  /** How long start() waits to catch up with the stream before the server starts anyway. */
  readonly startTimeoutMs?: number;
}

const BATCH = 500;
const BLOCK_MS = 5_000;
const MAX_OUTBOX = 100_000;

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
  private readonly reader: Redis;
  private readonly writer: Redis;
  private outbox: string[] = [];
  private flushing = false;
  private flushScheduled = false;
  private stopped = false;
  private lastId = "0";
  private readLoop: Promise<void> | null = null;
  private caughtUp: () => void = () => {};
  private lost = false;

  constructor(private readonly options: RedisSharingOptions) {
    this.streamKey = `${options.keyPrefix}:risk:events`;
    // The reader blocks in XREAD; its command waits across reconnects instead of failing.
    this.reader = new Redis(options.url, connectionOptions({ maxRetriesPerRequest: null }));
    // The writer fails fast while disconnected: the outbox holds events until it is back.
    this.writer = new Redis(options.url, connectionOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 0 }));
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

  get pending(): number {
    return this.outbox.length;
  }

  /** Connects and catches up with the stream (bounded wait); never throws for an unreachable Redis. */
  async start(): Promise<void> {
    const caughtUp = new Promise<void>((resolve) => {
      this.caughtUp = resolve;
    });
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
    if (name === "writer") void this.flush();
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
          pipeline.xadd(this.streamKey, "MAXLEN", "~", String(this.options.streamMaxLen), "*", "e", payload);
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

  private receive(fields: string[]): void {
    const payload = fields[0] === "e" ? fields[1] : undefined;
    const event = payload === undefined ? null : decodeEvent(payload);
    if (event === null) {
      this.options.metrics.shared("invalid");
      return;
    }
    if (event.origin === this.options.replicaId) return;
    this.options.metrics.shared("applied");
    this.options.apply(event);
  }
}
