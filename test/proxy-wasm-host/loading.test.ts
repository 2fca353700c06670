// Loading like Envoy's V8 runtime: only declared imports, ABI-gated host functions, exact
// signatures, the allocator lookup, and the start-up functions.
import { expect, test } from "vitest";
import { fixture, recorder } from "./fixtures.js";
import { ProxyWasmHost, WasmLoadError } from "./index.js";

test("a module is instantiated with only the imports it declares", () => {
  const host = ProxyWasmHost.load(fixture({ body: recorder("proxy_on_context_create") }));
  expect(host.failed).toBe(false);
  host.startVm();
  expect(host.logMessages()).toEqual(["proxy_on_context_create 1 0"]);
});

test("an import the host does not provide fails to link (env.abort, an AssemblyScript default)", () => {
  const bytes = fixture({ rawImports: ['(import "env" "abort" (func $abort (param i32 i32 i32 i32)))'], body: "" });
  expect(() => ProxyWasmHost.load(bytes)).toThrow(
    new WasmLoadError("Failed to load Wasm module due to a missing import: env.abort"),
  );
});

test("host functions are registered per ABI version", () => {
  // proxy_get_log_level exists only for 0_2_1 modules; 0.1.0-only functions never for 0_2_x.
  const logLevel = '(import "env" "proxy_get_log_level" (func $gl (param i32) (result i32)))';
  expect(() => ProxyWasmHost.load(fixture({ abi: "0_2_1", rawImports: [logLevel], body: "" }))).not.toThrow();
  expect(() => ProxyWasmHost.load(fixture({ abi: "0_2_0", rawImports: [logLevel], body: "" }))).toThrow(
    /missing import: env.proxy_get_log_level/,
  );
  const routeCache = '(import "env" "proxy_clear_route_cache" (func $c (result i32)))';
  expect(() => ProxyWasmHost.load(fixture({ rawImports: [routeCache], body: "" }))).toThrow(
    /missing import: env.proxy_clear_route_cache/,
  );
  const wasi = '(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))';
  expect(() => ProxyWasmHost.load(fixture({ rawImports: [wasi], body: "" }))).not.toThrow();
});

test("an import with the wrong signature fails to link (proxy_increment_metric takes an i64 delta)", () => {
  const bytes = fixture({
    rawImports: ['(import "env" "proxy_increment_metric" (func $inc (param i32 i32) (result i32)))'],
    body: "",
  });
  expect(() => ProxyWasmHost.load(bytes)).toThrow(
    "Failed to load Wasm module due to an import type mismatch for function env.proxy_increment_metric, " +
      "want: (i32, i64) -> (i32), but host exports: (i32, i32) -> (i32)",
  );
});

test("a callback with the wrong signature is refused", () => {
  const bytes = fixture({
    body: '(func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0))',
  });
  expect(() => ProxyWasmHost.load(bytes)).toThrow("Bad function signature for: proxy_on_request_headers");
});

test("the ABI marker is required; 0.1.0 is not implemented by this host", () => {
  expect(() => ProxyWasmHost.load(fixture({ abi: null, body: "" }))).toThrow(
    "Missing or unknown Proxy-Wasm ABI version",
  );
  expect(() => ProxyWasmHost.load(fixture({ abi: "0_1_0", body: "" }))).toThrow(/ABI 0.2.x only/);
});

test("allocator: malloc first, then proxy_on_memory_allocate; neither is an error", () => {
  expect(() => ProxyWasmHost.load(fixture({ allocator: "none", body: "" }))).toThrow(
    "Wasm module is missing malloc function.",
  );
  const probe = `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $proxy_get_buffer_bytes (i32.const 6) (i32.const 0) (i32.const 10) (i32.const 0) (i32.const 4))) (i32.const 1))`;
  const fallback = ProxyWasmHost.load(
    fixture({ allocator: "proxy_on_memory_allocate", imports: ["proxy_get_buffer_bytes"], body: probe }),
    { vmConfig: "cfg" },
  );
  fallback.startVm();
  expect(fallback.logMessages()).toEqual(["alloc-fallback", "malloc 3"]);
  const both = ProxyWasmHost.load(fixture({ allocator: "both", imports: ["proxy_get_buffer_bytes"], body: probe }), {
    vmConfig: "cfg",
  });
  both.startVm();
  expect(both.logMessages()).toEqual(["malloc 3"]);
});

test("start-up: _initialize then main(0, 0); _start only when there is no _initialize", () => {
  const withInit = fixture({
    data: { init: "_initialize", main: "main", start: "_start" },
    body: `(func (export "_initialize") (call $say {{init}}))
      (func (export "main") (param i32 i32) (result i32) (call $say2 {{main}} (local.get 0) (local.get 1)) (i32.const 0))
      (func (export "_start") (call $say {{start}}))`,
  });
  expect(ProxyWasmHost.load(withInit).logMessages()).toEqual(["_initialize", "main 0 0"]);
  const startOnly = fixture({ data: { start: "_start" }, body: `(func (export "_start") (call $say {{start}}))` });
  expect(ProxyWasmHost.load(startOnly).logMessages()).toEqual(["_start"]);
});

test("a trap during start-up fails the load", () => {
  const bytes = fixture({ body: '(func (export "_initialize") unreachable)' });
  expect(() => ProxyWasmHost.load(bytes)).toThrow(/Failed to start the Wasm module: Function: _initialize failed/);
});
