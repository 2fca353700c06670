// The compiled module itself: what Envoy links and calls, its size, and its lifecycle.
import { statSync } from "node:fs";
import { expect, test } from "vitest";
import { LogLevel, ProxyWasmHost } from "../../test/proxy-wasm-host/index.js";
import { FILTER_WASM, filterBytes, mtlsPeer, REQUEST, startFilter } from "./harness.js";

test("imports only env.proxy_* functions Envoy provides for ABI 0.2.1 (no env.abort, no WASI)", () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(filterBytes()));
  for (const imp of imports) {
    expect(imp.module).toBe("env");
    expect(imp.name).toMatch(/^proxy_/);
  }
  expect(imports.map((i) => i.name)).not.toContain("abort");
});

test("exports the ABI 0.2.1 marker, the allocator, _initialize and the callbacks it implements", () => {
  const names = WebAssembly.Module.exports(new WebAssembly.Module(filterBytes())).map((e) => e.name);
  for (const name of [
    "proxy_abi_version_0_2_1",
    "malloc",
    "memory",
    "_initialize",
    "proxy_on_context_create",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_tick",
    "proxy_on_http_call_response",
    "proxy_on_request_headers",
    "proxy_on_done",
    "proxy_on_delete",
  ]) {
    expect(names).toContain(name);
  }
});

test("is optimised to at most 40 KB", () => {
  expect(statSync(FILTER_WASM).size).toBeLessThanOrEqual(40 * 1024);
});

test("root shutdown (proxy_on_done then proxy_on_delete on the root) does not trap", () => {
  const host = startFilter({ revocation: { cluster: "c", pollMs: 1000 } });
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders(REQUEST);
  s.complete();
  host.tick(); // a poll in flight at shutdown
  expect(host.shutdown()).toBe(true);
  expect(host.failed).toBe(false);
  expect(host.logMessages(LogLevel.Critical)).toEqual([]);
});

test("a stream completed before its headers (reset early) is cleaned up without a trap", () => {
  const host = startFilter();
  for (let i = 0; i < 100; i++) host.newHttpStream().complete();
  const s = host.newHttpStream({ properties: mtlsPeer() });
  s.requestHeaders(REQUEST);
  expect(s.localResponse).toBeNull();
  expect(host.failed).toBe(false);
});

test("filters with different configurations are independent (one VM each)", () => {
  const strict = startFilter({ requireMtls: true });
  const lax = ProxyWasmHost.load(filterBytes(), { pluginConfig: '{"requireMtls": false}' });
  lax.startVm();
  lax.configure();
  const a = strict.newHttpStream();
  a.requestHeaders(REQUEST);
  const b = lax.newHttpStream();
  b.requestHeaders(REQUEST);
  expect(a.localResponse?.statusCode).toBe(401);
  expect(b.localResponse).toBeNull();
});
