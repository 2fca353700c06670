import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "../observability/logger.js";
import { EventSigner } from "./event-signing.js";
import { RedisRiskSharing } from "./redis-sharing.js";
import { RiskMetrics } from "./risk-metrics.js";

describe("RedisRiskSharing without a reachable Redis", () => {
  it("stop() finishes promptly although the read loop's XREAD waits in the offline queue", async () => {
    const sharing = new RedisRiskSharing({
      url: "redis://127.0.0.1:1",
      keyPrefix: "t",
      streamMaxLen: 100,
      replicaId: "r",
      apply: () => undefined,
      revocations: { records: () => [], apply: () => undefined },
      signer: new EventSigner(""),
      logger: createLogger("silent"),
      metrics: new RiskMetrics(new Registry(), {
        levelCounts: () => ({ low: 0, medium: 0, high: 0, critical: 0 }),
        feedAgeMs: () => 0,
        feedFresh: () => false,
        redisConnected: null,
      }),
      startTimeoutMs: 100,
    });
    await sharing.start();
    sharing.publish({ kind: "heard", origin: "r", atMs: 1 });
    const started = Date.now();
    const stopped = await Promise.race([
      sharing.stop().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);
    expect({ stopped, fast: Date.now() - started < 3_000 }).toEqual({ stopped: true, fast: true });
  }, 10_000);
});
