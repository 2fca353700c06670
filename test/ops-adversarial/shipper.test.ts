/**
 * The decision-log shipper (`log.ship: otlp`) against a collector that has stopped answering. The README promises
 * "a Check never waits for the collector and memory never grows without bound": lines beyond `log.shipQueueSize`
 * are dropped and counted. The bound is a number of lines, and a deny line carries the request's headers escaped
 * (a control character becomes six bytes), so the probe sends denied Checks with large headers and watches the
 * process's heap while the collector holds every export. Safe: the memory held for the collector stays within a few
 * tens of MiB (stdout's own bound is 32 MiB), whatever the lines' size.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCheckRequest } from "../../authz-server/src/extauthz/build-check-request.js";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { type OtlpReceiver, startOtlpReceiver } from "../../authz-server/test/support/otlp-receiver.js";
import { type ServeProcess, startServe } from "../../authz-server/test/support/process.js";
import { policyDir, STORE, sample, sleep } from "./support.js";

const HELD_BUDGET_BYTES = 48 * 1024 * 1024;

let fixture: Awaited<ReturnType<typeof policyDir>>;
let receiver: OtlpReceiver;
let server: ServeProcess;

beforeAll(async () => {
  fixture = await policyDir();
  receiver = await startOtlpReceiver();
  receiver.stall(true);
  const config = join(fixture.dir, "ship.yaml");
  // Default queue (10,000 lines) and batch size; a short interval so exports start at once.
  await writeFile(config, "workers: 1\nlog: {level: info, decisions: deny, ship: otlp, shipIntervalMs: 50}\n");
  server = await startServe(["--config", config, "--policy-dir", fixture.policies], {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });
});

afterAll(async () => {
  server?.child.kill("SIGKILL"); // a stalled collector holds a graceful stop (see shutdown.test.ts)
  await server?.stop();
  receiver?.stall(false);
  await receiver?.close();
  await fixture?.cleanup();
});

async function heapUsed(): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return sample(text, /^trustgate_nodejs_heap_size_used_bytes (\S+)$/m) ?? Number.NaN;
}

describe("a stalled OTLP collector", () => {
  it("does not make trustgate hold large deny lines without bound (memory bounded in bytes, not lines)", async () => {
    const client = new CheckClient(server.grpcAddress);
    const stranger = "spiffe://cluster.local/ns/elsewhere/sa/stranger"; // no ALLOW rule: a deny, logged with headers
    try {
      await client.check(buildCheckRequest({ source: { principal: stranger }, destination: { principal: STORE } }));
      await sleep(300);
      const before = await heapUsed();
      // 150 KB of control characters: about 900 KB of escaped JSON per line, far under grpc.maxMessageBytes (1 MiB).
      const header = "\u0001".repeat(150_000);
      let slowest = 0;
      for (let i = 0; i < 120; i++) {
        const started = performance.now();
        const r = await client.check(
          buildCheckRequest({
            source: { principal: stranger },
            destination: { principal: STORE },
            path: `/big/${i}`,
            headers: { "x-payload": `${header}${i}` },
          }),
        );
        expect(r.status.code).toBe(7);
        slowest = Math.max(slowest, performance.now() - started);
      }
      // No Check waits for the collector (generous: a 150 KB request on a loaded 2-core machine).
      expect(slowest).toBeLessThan(2000);
      await sleep(500);
      const after = await heapUsed();
      const held = after - before;
      expect(
        held,
        `heap used grew by ${Math.round(held / 1024 / 1024)} MiB holding 120 denied lines for the collector`,
      ).toBeLessThan(HELD_BUDGET_BYTES);
    } finally {
      client.close();
    }
  });
});
