// Header maps, buffers, local responses, metrics and logs as Envoy's host implements them.
import { expect, test } from "vitest";
import { fixture, recorder } from "./fixtures.js";
import { encodePairs, HeadersAction, LogLevel, MetricType, ProxyWasmHost, Status } from "./index.js";

test("header keys are lower-cased; get returns the first of repeated values; absent is NOT_FOUND", () => {
  const bytes = fixture({
    imports: [
      "proxy_get_header_map_value",
      "proxy_add_header_map_value",
      "proxy_replace_header_map_value",
      "proxy_remove_header_map_value",
    ],
    data: {
      mixed: "X-Mixed-Case",
      v: "added",
      dup: "X-Dup",
      gone: "X-Gone",
      rep: "X-Rep",
      r: "new",
      l1: "dup",
      l2: "mixed",
      l3: "absent",
    },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_add_header_map_value (i32.const 0) {{mixed}} {{v}}))
      (call $say_ret {{l2}} (call $proxy_get_header_map_value (i32.const 0) {{mixed}} (i32.const 0) (i32.const 4)))
      (call $say_ret {{l1}} (call $proxy_get_header_map_value (i32.const 0) {{dup}} (i32.const 0) (i32.const 4)))
      (i32.store (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const 0))
      (call $say_ret {{l3}} (call $proxy_get_header_map_value (i32.const 0) {{gone}} (i32.const 0) (i32.const 4)))
      (drop (call $proxy_replace_header_map_value (i32.const 0) {{rep}} {{r}}))
      (drop (call $proxy_remove_header_map_value (i32.const 0) {{dup}}))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  s.requestHeaders([
    [":path", "/"],
    ["x-dup", "first"],
    ["X-Rep", "a"],
    ["x-dup", "second"],
    ["x-rep", "b"],
  ]);
  const lines = host.logMessages().filter((l) => !l.startsWith("malloc"));
  expect(lines).toEqual([
    `mixed 0 ${Buffer.from("added").toString("hex")}`,
    `dup 0 ${Buffer.from("first").toString("hex")}`,
    "absent 1 ",
  ]);
  // replace keeps the first entry's place and drops the rest; remove drops every value.
  expect(s.request.headers.pairs()).toEqual([
    [":path", "/"],
    ["x-rep", "new"],
    ["x-mixed-case", "added"],
  ]);
});

test("host-to-guest copies go through malloc; empty values are ptr 0 / size 0 with no malloc", () => {
  const bytes = fixture({
    imports: ["proxy_get_header_map_value"],
    data: { k: "k", e: "e", l: "got" },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (i32.store (i32.const 0) (i32.const 99)) (i32.store (i32.const 4) (i32.const 99))
      (drop (call $proxy_get_header_map_value (i32.const 0) {{e}} (i32.const 0) (i32.const 4)))
      (call $say2 {{l}} (i32.load (i32.const 0)) (i32.load (i32.const 4)))
      (drop (call $proxy_get_header_map_value (i32.const 0) {{k}} (i32.const 0) (i32.const 4)))
      (call $say2 {{l}} (i32.ne (i32.load (i32.const 0)) (i32.const 0)) (i32.load (i32.const 4)))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.newHttpStream().requestHeaders([
    ["e", ""],
    ["k", "value"],
  ]);
  expect(host.logMessages()).toEqual(["got 0 0", "malloc 5", "got 1 5"]);
});

test("map access outside its window is BAD_ARGUMENT (request headers after Continue, call headers outside the callback)", () => {
  const bytes = fixture({
    imports: ["proxy_get_header_map_value"],
    data: { k: ":path", l: "req", c: "call" },
    body: `(func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (call $say1 {{l}} (call $proxy_get_header_map_value (i32.const 0) {{k}} (i32.const 0) (i32.const 4)))
      (call $say1 {{c}} (call $proxy_get_header_map_value (i32.const 6) {{k}} (i32.const 0) (i32.const 4)))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  s.requestHeaders([[":path", "/"]]);
  s.responseHeaders([[":status", "200"]]);
  expect(host.logMessages()).toEqual(["req 2", "call 2"]);
});

test("buffers: clamped reads, length 0 is ptr 0 / size 0, start beyond the end is BAD_ARGUMENT, plugin config only in on_configure", () => {
  const bytes = fixture({
    imports: ["proxy_get_buffer_bytes"],
    data: { a: "clamped", b: "empty", c: "beyond", d: "outside" },
    body: `(func (export "proxy_on_configure") (param i32 i32) (result i32)
      (call $say_ret {{a}} (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 1) (i32.const 100) (i32.const 0) (i32.const 4)))
      (i32.store (i32.const 0) (i32.const 9)) (i32.store (i32.const 4) (i32.const 9))
      (call $say2 {{b}} (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4)) (i32.load (i32.const 4)))
      (call $say1 {{c}} (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 6) (i32.const 1) (i32.const 0) (i32.const 4)))
      (i32.const 1))
      (func (export "proxy_on_tick") (param i32)
      (call $say1 {{d}} (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 4))))`,
  });
  const host = ProxyWasmHost.load(bytes, { pluginConfig: "hello" });
  host.configure();
  host.tickPeriods.set(1, 1);
  host.tick();
  expect(host.logMessages().filter((l) => !l.startsWith("malloc"))).toEqual([
    `clamped 0 ${Buffer.from("ello").toString("hex")}`,
    "empty 0 0",
    "beyond 2",
    "outside 1",
  ]);
});

test("local response: deferred to the end of the call, forces a stop, passes through on_response_headers", () => {
  const bytes = fixture({
    imports: ["proxy_send_local_response"],
    data: {
      details: "access denied by policy",
      body: '{"decision":"deny"}',
      headers: encodePairs([
        ["My-Header", "yes"],
        ["content-type", "application/json"],
      ]),
      sent: "sent",
    },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (call $say1 {{sent}} (call $proxy_send_local_response (i32.const 403) {{details}} {{body}} {{headers}} (i32.const -1)))
      (i32.const 0))
      ${recorder("proxy_on_response_headers")}
      ${recorder("proxy_on_response_body")}`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  // The module even returns Continue; Envoy still stops the request after a local reply.
  expect(s.requestHeaders([[":path", "/"]])).toBe(HeadersAction.Continue);
  expect(s.localResponse).toMatchObject({
    statusCode: 403,
    details: "access_denied_by_policy",
    grpcStatus: null,
    failure: false,
  });
  expect(Buffer.from(s.localResponse!.body).toString()).toBe('{"decision":"deny"}');
  expect(s.localResponse!.headers.pairs()).toEqual([
    [":status", "403"],
    ["my-header", "yes"],
    ["content-type", "application/json"],
    ["content-length", "19"],
  ]);
  expect(host.logMessages()).toEqual(["sent 0", "proxy_on_response_headers 2 4 0", "proxy_on_response_body 2 19 1"]);
  expect(() => s.requestBody("more")).toThrow(/answered locally/);
});

test("metrics: Envoy ids ((n << 2) | type), counters only go up, gauges set and add, histograms record", () => {
  const bytes = fixture({
    imports: ["proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric"],
    data: { c: "requests", g: "version", h: "latency", ids: "ids", st: "statuses" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_define_metric (i32.const 0) {{c}} (i32.const 16)))
      (drop (call $proxy_define_metric (i32.const 1) {{g}} (i32.const 20)))
      (drop (call $proxy_define_metric (i32.const 2) {{h}} (i32.const 24)))
      (call $say3 {{ids}} (i32.load (i32.const 16)) (i32.load (i32.const 20)) (i32.load (i32.const 24)))
      (call $say4 {{st}}
        (call $proxy_increment_metric (i32.load (i32.const 16)) (i64.const 5))
        (call $proxy_increment_metric (i32.load (i32.const 16)) (i64.const -1))
        (call $proxy_increment_metric (i32.load (i32.const 24)) (i64.const 1))
        (call $proxy_define_metric (i32.const 3) {{c}} (i32.const 28)))
      (drop (call $proxy_record_metric (i32.load (i32.const 20)) (i64.const 42)))
      (drop (call $proxy_increment_metric (i32.load (i32.const 20)) (i64.const -2)))
      (drop (call $proxy_record_metric (i32.load (i32.const 24)) (i64.const 7)))
      (drop (call $proxy_record_metric (i32.load (i32.const 24)) (i64.const 9)))
      (i32.const 1))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.startVm();
  expect(host.logMessages()).toEqual(["ids 4 5 6", "statuses 0 2 2 2"]);
  expect(host.metric("requests")).toMatchObject({ type: MetricType.Counter, value: 5n });
  expect(host.metric("version")).toMatchObject({ type: MetricType.Gauge, value: 40n });
  expect(host.metric("latency")).toMatchObject({ type: MetricType.Histogram, samples: [7n, 9n] });
});

test("logs: levels recorded from the configured level up; a level above 5 is BAD_ARGUMENT; WASI stdout is info", () => {
  const iov = Buffer.alloc(8);
  const bytes = fixture({
    rawImports: ['(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))'],
    imports: ["proxy_get_log_level"],
    data: { dbg: "debug line", warn: "warn line", bad: "bad level", out: "from stdout\n", iov, lvl: "level" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_log (i32.const ${LogLevel.Debug}) {{dbg}}))
      (drop (call $proxy_log (i32.const ${LogLevel.Warn}) {{warn}}))
      (drop (call $proxy_get_log_level (i32.const 32)))
      (call $say2 {{bad}} (call $proxy_log (i32.const ${LogLevel.Critical + 1}) {{bad}}) (i32.load (i32.const 32)))
      (i32.store {{iov.ptr}} {{out.ptr}}) (i32.store (i32.add {{iov.ptr}} (i32.const 4)) {{out.len}})
      (drop (call $fd_write (i32.const 1) {{iov.ptr}} (i32.const 1) (i32.const 40)))
      (i32.const 1))`,
  });
  const host = ProxyWasmHost.load(bytes, { logLevel: LogLevel.Info });
  host.startVm();
  expect(host.logs.map((l) => [l.level, l.message])).toEqual([
    [LogLevel.Warn, "warn line"],
    [LogLevel.Info, "bad level 2 2"],
    [LogLevel.Info, "from stdout"],
  ]);
});

test("proxy_set_property stores on the stream (filter state) and reads back; NOT_FOUND outside a stream", () => {
  const bytes = fixture({
    imports: ["proxy_set_property", "proxy_get_property"],
    data: { k: "trustgate_decision", v: "allow", l: "set", r: "get" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (call $say1 {{l}} (call $proxy_set_property {{k}} {{v}})) (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (call $say1 {{l}} (call $proxy_set_property {{k}} {{v}}))
      (call $say_ret {{r}} (call $proxy_get_property {{k}} (i32.const 0) (i32.const 4)))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.startVm();
  host.newHttpStream().requestHeaders([]);
  expect(host.logMessages().filter((l) => !l.startsWith("malloc"))).toEqual([
    "set 1",
    "set 0",
    `get 0 ${Buffer.from("allow").toString("hex")}`,
  ]);
});

test("WASI proc_exit only records (the module decides what happens next)", () => {
  const bytes = fixture({
    rawImports: ['(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'],
    data: { l: "after" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32) (call $exit (i32.const 3)) (call $say {{l}}) (i32.const 1))`,
  });
  const host = ProxyWasmHost.load(bytes, { logLevel: LogLevel.Trace });
  expect(host.startVm()).toBe(true);
  expect(host.logMessages()).toEqual(["wasi proc_exit(3)", "after"]);
});

test("refuseHeaderRemoval makes proxy_remove_header_map_value answer the given status and keep the header", () => {
  const bytes = fixture({
    imports: ["proxy_remove_header_map_value"],
    data: { a: "X-A", b: "x-b", l: "removed" },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (call $say_ret {{l}} (call $proxy_remove_header_map_value (i32.const 0) {{a}}))
      (call $say_ret {{l}} (call $proxy_remove_header_map_value (i32.const 0) {{b}}))
      (i32.const 0))`,
  });
  const asked: Array<[number, string]> = [];
  const host = ProxyWasmHost.load(bytes, {
    refuseHeaderRemoval: (map, key) => {
      asked.push([map, key]);
      return key === "x-a" ? Status.BadArgument : undefined;
    },
  });
  const s = host.newHttpStream();
  s.requestHeaders([
    ["x-a", "1"],
    ["x-b", "2"],
  ]);
  expect(asked).toEqual([
    [0, "x-a"],
    [0, "x-b"],
  ]);
  expect(host.logMessages()).toEqual(["removed 2 ", "removed 0 "]);
  expect(s.request.headers.pairs()).toEqual([["x-a", "1"]]);
});
