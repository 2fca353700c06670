// The start-up and per-stream callback order Envoy drives, as the guest observes it.
import { expect, test } from "vitest";
import { fixture, recorder } from "./fixtures.js";
import { HeadersAction, ProxyWasmHost } from "./index.js";

const ALL = [
  recorder("proxy_on_context_create"),
  recorder("proxy_on_vm_start", 1),
  recorder("proxy_on_configure", 1),
  recorder("proxy_on_request_headers"),
  recorder("proxy_on_request_body"),
  recorder("proxy_on_request_trailers"),
  recorder("proxy_on_response_headers"),
  recorder("proxy_on_response_body"),
  recorder("proxy_on_response_trailers"),
  recorder("proxy_on_done", 1),
  recorder("proxy_on_log"),
  recorder("proxy_on_delete"),
].join("\n");

test("VM start, configure, then a full stream, in Envoy's order with Envoy's arguments", () => {
  const host = ProxyWasmHost.load(fixture({ body: ALL }), { vmConfig: "vm", pluginConfig: '{"a":1}' });
  expect(host.startVm()).toBe(true);
  expect(host.configure()).toBe(true);
  const s = host.newHttpStream();
  expect(s.id).toBe(2);
  s.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/"],
      [":authority", "x"],
    ],
    { endOfStream: false },
  );
  s.requestBody("hello", { endOfStream: false });
  s.requestTrailers([["t", "1"]]);
  s.responseHeaders([[":status", "200"]]);
  s.responseBody("ok!", { endOfStream: true });
  s.complete();
  expect(host.logMessages()).toEqual([
    "proxy_on_context_create 1 0",
    "proxy_on_vm_start 1 2",
    "proxy_on_configure 1 7",
    "proxy_on_context_create 2 1",
    "proxy_on_request_headers 2 3 0",
    "proxy_on_request_body 2 5 0",
    "proxy_on_request_trailers 2 1",
    "proxy_on_response_headers 2 1 0",
    "proxy_on_response_body 2 3 1",
    "proxy_on_done 2",
    "proxy_on_log 2",
    "proxy_on_delete 2",
  ]);
});

test("context ids: root 1, streams 2, 3, … never reused", () => {
  const host = ProxyWasmHost.load(fixture({ body: ALL }));
  host.startVm();
  const a = host.newHttpStream();
  a.complete();
  const b = host.newHttpStream();
  expect([a.id, b.id]).toEqual([2, 3]);
});

test("a callback the module does not export is skipped and the stream continues", () => {
  const host = ProxyWasmHost.load(fixture({ body: recorder("proxy_on_context_create") }));
  const s = host.newHttpStream();
  expect(s.requestHeaders([[":path", "/"]])).toBe(HeadersAction.Continue);
  expect(s.request.action).toBe(0);
});

test("a headers result above 4 is clamped to StopAllIterationAndWatermark and pauses the side", () => {
  const host = ProxyWasmHost.load(fixture({ body: recorder("proxy_on_request_headers", 9) }));
  const s = host.newHttpStream();
  expect(s.requestHeaders([[":path", "/"]])).toBe(HeadersAction.StopAllIterationAndWatermark);
  expect(s.request.paused).toBe(true);
});

test("a false proxy_on_configure is reported (Envoy rejects the configuration)", () => {
  const host = ProxyWasmHost.load(fixture({ body: recorder("proxy_on_configure", 0) }));
  expect(host.configure()).toBe(false);
});

test("VM shutdown: proxy_on_done on the root; false waits for proxy_done, then proxy_on_delete", () => {
  const bytes = fixture({
    imports: ["proxy_done"],
    data: { del: "proxy_on_delete", done: "proxy_done" },
    body: `(func (export "proxy_on_done") (param i32) (result i32) (i32.const 0))
      (func (export "proxy_on_tick") (param i32) (call $say1 {{done}} (call $proxy_done)))
      (func (export "proxy_on_delete") (param i32) (call $say1 {{del}} (local.get 0)))`,
  });
  const host = ProxyWasmHost.load(bytes);
  expect(host.shutdown()).toBe(false);
  expect(host.logMessages()).toEqual([]);
  host.tickPeriods.set(1, 1000);
  host.tick(); // the module calls proxy_done from a later callback
  expect(host.logMessages()).toEqual(["proxy_done 0", "proxy_on_delete 1"]);
});
