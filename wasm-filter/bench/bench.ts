// Per-request cost of the filter in V8, through the TypeScript proxy-wasm host, next to a no-op
// module with the same ABI surface through the same host, in the same process. Rounds alternate
// between the two so machine noise hits both; the median round is reported.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LogLevel, type PropertyMap, ProxyWasmHost } from "../../test/proxy-wasm-host/index.js";

const HEADERS: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/orders/42"],
  [":authority", "payment.services.svc"],
  [":scheme", "https"],
  ["x-request-id", "0f7e5b8c-3c1a-4c55-9a57-1f2d3e4a5b6c"],
  ["user-agent", "order/1.4"],
  ["accept", "application/json"],
  ["x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"],
];
const PEER: PropertyMap = {
  "connection.mtls": true,
  "connection.uri_san_peer_certificate": "spiffe://cluster.local/ns/services/sa/order",
  "connection.sha256_peer_certificate_digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "connection.subject_peer_certificate": "CN=order,OU=services,O=cluster.local",
};
const CONFIG = JSON.stringify({
  allowedTrustDomains: ["cluster.local"],
  stripHeaders: ["x-forwarded-client-cert"],
  revocation: { cluster: "trustgate_admin", pollMs: 5000 },
});

function start(bytes: Uint8Array, revocationList: boolean): ProxyWasmHost {
  const host = ProxyWasmHost.load(bytes, { pluginConfig: CONFIG, logLevel: LogLevel.Info });
  if (!host.startVm() || !host.configure()) throw new Error("module did not start");
  if (revocationList) {
    // A realistic list in force: 1,000 revoked identities and fingerprints.
    host.tick();
    const call = host.httpCalls[0];
    if (!call) throw new Error("no revocation poll");
    const spiffeIds = Array.from({ length: 1000 }, (_, i) => `spiffe://cluster.local/ns/n${i}/sa/w${i}`);
    const fingerprints = Array.from({ length: 1000 }, (_, i) => `sha256:${i.toString(16).padStart(64, "0")}`);
    host.respondHttpCall(call.token, {
      headers: [[":status", "200"]],
      body: JSON.stringify({ version: 1, spiffeIds, fingerprints }),
    });
  }
  return host;
}

function round(host: ProxyWasmHost, requests: number, headers: Array<[string, string]>): number {
  const begin = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) {
    const stream = host.newHttpStream({ properties: PEER });
    stream.requestHeaders(headers);
    stream.complete();
  }
  return Number(process.hrtime.bigint() - begin) / requests;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export function run(root: string): void {
  const filterPath = join(root, "wasm-filter", "build", "trustgate_filter.wasm");
  const noopPath = join(root, "wasm-filter", "build", "noop.wasm");
  const filter = start(readFileSync(filterPath), true);
  const noop = start(readFileSync(noopPath), false);
  const requests = Number(process.env.BENCH_REQUESTS ?? 50_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 11);
  const scenarios: Array<[string, Array<[string, string]>]> = [
    ["allowed mTLS request (8 headers)", HEADERS],
    [
      "same with 2 forged x-trustgate-* headers",
      [...HEADERS, ["x-trustgate-peer-spiffe-id", "spiffe://x/y"], ["X-Trustgate-Peer-Mtls", "true"]],
    ],
  ];
  round(filter, requests, HEADERS); // warm-up (JIT, TLSF pools)
  round(noop, requests, HEADERS);
  console.log(`node ${process.version}, ${requests} requests × ${rounds} rounds per module, median round`);
  for (const [name, headers] of scenarios) {
    const f: number[] = [];
    const n: number[] = [];
    for (let r = 0; r < rounds; r++) {
      f.push(round(filter, requests, headers));
      n.push(round(noop, requests, headers));
    }
    const fm = median(f);
    const nm = median(n);
    console.log(`\n${name}`);
    console.log(`  trustgate_filter.wasm  ${fm.toFixed(0).padStart(7)} ns/request`);
    console.log(`  noop.wasm (baseline)   ${nm.toFixed(0).padStart(7)} ns/request`);
    console.log(`  ratio filter/noop      ${(fm / nm).toFixed(2).padStart(7)}`);
    console.log(`  filter's own share     ${(fm - nm).toFixed(0).padStart(7)} ns/request`);
  }
  console.log(
    `\ntrustgate_filter.wasm size: ${statSync(filterPath).size} bytes (noop.wasm ${statSync(noopPath).size} bytes)`,
  );
  if (filter.failed || noop.failed) throw new Error("a module trapped during the benchmark");
}
