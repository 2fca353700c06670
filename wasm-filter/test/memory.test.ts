// Memory stays flat over 1,000,000 requests through the host (allowed, spoofed and denied mixed),
// with a revocation list in force and periodic polls.
import { expect, test } from "vitest";
import { LogLevel } from "../../test/proxy-wasm-host/index.js";
import { mtlsPeer, ORDER_ID, REQUEST, startFilter } from "./harness.js";

const REQUESTS = 1_000_000;

test(`memory is flat over ${REQUESTS.toLocaleString("en")} requests`, { timeout: 300_000 }, () => {
  const host = startFilter(
    { allowedTrustDomains: ["cluster.local"], revocation: { cluster: "trustgate_admin", pollMs: 1000 } },
    { logLevel: LogLevel.Info }, // as in production: no per-deny debug lines
  );
  const revoked = "spiffe://cluster.local/ns/services/sa/billing";
  const streams = [
    { properties: mtlsPeer(), headers: REQUEST },
    {
      properties: mtlsPeer(),
      headers: [...REQUEST, ["X-Trustgate-Peer-Spiffe-Id", "spiffe://cluster.local/ns/data/sa/database"]],
    },
    { properties: mtlsPeer(revoked), headers: REQUEST },
    { properties: mtlsPeer("spiffe://evil.example/ns/a/sa/b"), headers: REQUEST },
    { properties: {}, headers: REQUEST },
  ] as const;

  let pagesAfterWarmup = 0;
  for (let i = 0; i < REQUESTS; i++) {
    if (i % 50_000 === 0) {
      host.tick();
      const call = host.httpCalls.at(-1);
      if (call) {
        const body = JSON.stringify({
          version: i + 1,
          spiffeIds: [revoked, ORDER_ID.replace("order", `o${i}`)],
          fingerprints: [],
        });
        host.respondHttpCall(call.token, { headers: [[":status", "200"]], body });
      }
    }
    const spec = streams[i % streams.length]!;
    const s = host.newHttpStream({ properties: spec.properties });
    s.requestHeaders(spec.headers);
    s.complete();
    if (i === 10_000) pagesAfterWarmup = host.memoryPages;
  }
  expect(host.failed).toBe(false);
  expect(host.metric("trustgate_filter_requests_total")?.value).toBe(BigInt(REQUESTS));
  expect(host.metric("trustgate_filter_local_denies_total")?.value).toBe(BigInt((REQUESTS / 5) * 3));
  // Flat: no growth at all after warm-up (64 KiB pages). The few pages hold the configuration, the
  // list and up to 16 denies' garbage between collections.
  expect(host.memoryPages).toBe(pagesAfterWarmup);
  expect(host.memoryPages).toBeLessThanOrEqual(8);
});
