// Shared setup for the filter tests: the compiled .wasm run through the TypeScript proxy-wasm host.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HostOptions, LogLevel, type PropertyMap, ProxyWasmHost } from "../../test/proxy-wasm-host/index.js";

export const FILTER_WASM = join(dirname(fileURLToPath(import.meta.url)), "..", "build", "trustgate_filter.wasm");
export const NOOP_WASM = join(dirname(fileURLToPath(import.meta.url)), "..", "build", "noop.wasm");

export function readWasm(path: string): Uint8Array {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: build it first with "npm run build:wasm" (npm test does this)`);
  }
  return readFileSync(path);
}

let cached: Uint8Array | undefined;
export function filterBytes(): Uint8Array {
  cached ??= readWasm(FILTER_WASM);
  return cached;
}

/** A started and configured filter; throws if configuration is rejected. */
export function startFilter(config: object | string = {}, options: HostOptions = {}): ProxyWasmHost {
  const host = ProxyWasmHost.load(filterBytes(), {
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
    logLevel: LogLevel.Debug,
    rootId: "trustgate",
    ...options,
  });
  if (!host.startVm()) throw new Error(`startVm failed: ${host.logMessages().join("\n")}`);
  if (!host.configure()) throw new Error(`configure failed: ${host.logMessages().join("\n")}`);
  return host;
}

export const ORDER_ID = "spiffe://cluster.local/ns/services/sa/order";
export const ORDER_DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
export const ORDER_SUBJECT = "CN=order,OU=services,O=cluster.local";

/** Connection properties of an mTLS peer, as Envoy serialises them. */
export function mtlsPeer(
  uriSan: string | Uint8Array | null = ORDER_ID,
  digest: string | null = ORDER_DIGEST,
  subject: string | null = ORDER_SUBJECT,
): PropertyMap {
  const props: Record<string, string | boolean | Uint8Array> = { "connection.mtls": true };
  if (uriSan !== null) props["connection.uri_san_peer_certificate"] = uriSan;
  if (digest !== null) props["connection.sha256_peer_certificate_digest"] = digest;
  if (subject !== null) props["connection.subject_peer_certificate"] = subject;
  return props;
}

export const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/orders/42"],
  [":authority", "payment.services.svc"],
  [":scheme", "https"],
  ["x-request-id", "req-1"],
];

export function denyBody(body: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(body).toString("utf8")) as Record<string, unknown>;
}
