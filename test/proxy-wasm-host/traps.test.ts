// A trap fails the VM: the stream gets Envoy's 503 "wasm_fail_stream", later streams too
// (unless fail_open), and no further callbacks reach the module.
import { expect, test } from "vitest";
import { fixture, recorder } from "./fixtures.js";
import { HeadersAction, LogLevel, ProxyWasmHost } from "./index.js";

const trapping = fixture({
  body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (if (i32.eq (local.get 0) (i32.const 3)) (then unreachable)) (i32.const 0))
    ${recorder("proxy_on_response_headers")}
    ${recorder("proxy_on_done", 1)}
    ${recorder("proxy_on_tick")}`,
});

test("a trap answers the stream 503 wasm_fail_stream and fails the VM", () => {
  const host = ProxyWasmHost.load(trapping);
  host.newHttpStream().requestHeaders([[":path", "/"]]); // id 2: fine
  const s = host.newHttpStream(); // id 3: traps
  expect(s.requestHeaders([[":path", "/"]])).toBe(HeadersAction.StopIteration);
  expect(s.localResponse).toMatchObject({
    statusCode: 503,
    details: "wasm_fail_stream",
    grpcStatus: 14,
    failure: true,
  });
  expect(host.failed).toBe(true);
  expect(host.logMessages(LogLevel.Critical)[0]).toMatch(/^Function: proxy_on_request_headers failed: unreachable/);

  const later = host.newHttpStream();
  later.requestHeaders([[":path", "/"]]);
  expect(later.localResponse?.details).toBe("wasm_fail_stream");
  later.complete();
  host.tickPeriods.set(1, 1);
  host.tick();
  expect(host.logMessages(LogLevel.Info).filter((l) => l.startsWith("proxy_on"))).toEqual([]);
});

test("fail_open: after a trap streams continue untouched", () => {
  const host = ProxyWasmHost.load(trapping, { failOpen: true });
  host.newHttpStream();
  const s = host.newHttpStream();
  s.requestHeaders([[":path", "/"]]);
  expect(s.localResponse).toBeNull();
  const later = host.newHttpStream();
  expect(later.requestHeaders([[":path", "/"]])).toBe(HeadersAction.Continue);
  expect(later.localResponse).toBeNull();
});

test("an out-of-bounds memory access from the guest is a trap too; a bad pointer to the host is INVALID_MEMORY_ACCESS", () => {
  const bytes = fixture({
    data: { l: "status" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (call $say1 {{l}} (call $proxy_log (i32.const ${LogLevel.Info}) (i32.const 200000) (i32.const 10))) (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.load (i32.const 999999)))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.startVm();
  expect(host.logMessages()).toEqual(["status 6"]);
  const s = host.newHttpStream();
  s.requestHeaders([]);
  expect(s.localResponse?.statusCode).toBe(503);
});

test("unbounded recursion (a V8 stack overflow) is a trap like any other", () => {
  const bytes = fixture({
    body: `(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (call $down (i32.const 0)))`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  s.requestHeaders([]);
  expect(s.localResponse?.details).toBe("wasm_fail_stream");
  expect(host.failure).toMatch(/^Function: proxy_on_request_headers failed: Maximum call stack size exceeded/);
});
