// HTTP calls dispatched by the module and answered to the root context, ticks, the effective
// context and resuming a paused stream.
import { expect, test } from "vitest";
import { fixture, recorder } from "./fixtures.js";
import { encodePairs, HeadersAction, ProxyWasmHost, Status } from "./index.js";

const GET = encodePairs([
  [":method", "GET"],
  [":path", "/v1/revocations"],
  [":authority", "trustgate"],
]);
const NO_PATH = encodePairs([
  [":method", "GET"],
  [":authority", "trustgate"],
]);

// on_tick dispatches three calls: no :path (BAD_ARGUMENT), unknown cluster, then a good one.
const caller = fixture({
  imports: [
    "proxy_http_call",
    "proxy_get_header_map_value",
    "proxy_get_buffer_bytes",
    "proxy_get_status",
    "proxy_set_tick_period_milliseconds",
  ],
  data: {
    cluster: "trustgate_admin",
    other: "nowhere",
    get: GET,
    nopath: NO_PATH,
    body: "ping",
    status: ":status",
    d: "dispatch",
    r: "response",
    h: "status",
    b: "body",
    g: "get_status",
  },
  body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (drop (call $proxy_set_tick_period_milliseconds (i32.const 250))) (i32.const 1))
    (func (export "proxy_on_tick") (param i32)
      (call $say2 {{d}} (call $proxy_http_call {{cluster}} {{nopath}} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 8)) (i32.load (i32.const 8)))
      (call $say2 {{d}} (call $proxy_http_call {{other}} {{get}} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 8)) (i32.load (i32.const 8)))
      (call $say2 {{d}} (call $proxy_http_call {{cluster}} {{get}} {{body}} (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 8)) (i32.load (i32.const 8))))
    (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
      (call $say4 {{r}} (local.get 0) (local.get 1) (local.get 2) (local.get 3))
      (if (local.get 2) (then
        (call $say_ret {{h}} (call $proxy_get_header_map_value (i32.const 6) {{status}} (i32.const 0) (i32.const 4)))
        (call $say_ret {{b}} (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0) (local.get 3) (i32.const 0) (i32.const 4))))
      (else
        (drop (call $proxy_get_status (i32.const 12) (i32.const 0) (i32.const 4)))
        (call $say1 {{g}} (i32.load (i32.const 12))))))`,
});

test("dispatch: BAD_ARGUMENT without :path or for an unknown cluster; otherwise a token and a recorded call", () => {
  const host = ProxyWasmHost.load(caller, { clusters: ["trustgate_admin"] });
  expect(host.startVm()).toBe(true);
  expect(host.tickPeriodMs).toBe(250);
  host.tick();
  expect(host.logMessages()).toEqual(["dispatch 2 0", "dispatch 2 0", "dispatch 0 1"]);
  expect(host.httpCalls).toEqual([
    {
      token: 1,
      upstream: "trustgate_admin",
      headers: [
        [":method", "GET"],
        [":path", "/v1/revocations"],
        [":authority", "trustgate"],
      ],
      body: new Uint8Array(Buffer.from("ping")),
      trailers: [],
      timeoutMs: 500,
      rootContextId: 1,
    },
  ]);
});

const ONLY_ADMIN = { clusters: ["trustgate_admin"] };

test("the answer goes to the root context with header count and body size; maps and body readable inside", () => {
  const host = ProxyWasmHost.load(caller, ONLY_ADMIN);
  host.startVm();
  host.tick();
  const token = host.httpCalls[0]!.token;
  expect(token).toBe(1);
  host.respondHttpCall(token, {
    headers: [
      [":status", "200"],
      ["ETag", '"4"'],
    ],
    body: "{}",
  });
  expect(
    host
      .logMessages()
      .filter((l) => !l.startsWith("malloc"))
      .slice(-3),
  ).toEqual([
    `response 1 ${token} 2 2`,
    `status 0 ${Buffer.from("200").toString("hex")}`,
    `body 0 ${Buffer.from("{}").toString("hex")}`,
  ]);
  expect(host.httpCalls).toEqual([]);
  expect(() => host.respondHttpCall(token, { headers: [] })).toThrow(/no pending HTTP call/);
});

test("a failed call reaches the module with num_headers 0 and proxy_get_status BrokenConnection", () => {
  const host = ProxyWasmHost.load(caller, ONLY_ADMIN);
  host.startVm();
  host.tick();
  host.failHttpCall(host.httpCalls[0]!.token);
  const lines = host.logMessages().filter((l) => !l.startsWith("malloc"));
  expect(lines.slice(-2)).toEqual(["response 1 1 0 0", `get_status ${Status.BrokenConnection}`]);
});

test("the embedding code can answer asynchronously from onHttpCall", async () => {
  const host = ProxyWasmHost.load(caller, ONLY_ADMIN);
  host.startVm();
  const answered = new Promise<void>((resolve) => {
    host.onHttpCall = (call) => {
      setTimeout(() => {
        host.respondHttpCall(call.token, { headers: [[":status", "304"]] });
        resolve();
      }, 5);
    };
  });
  host.tick();
  await answered;
  expect(host.logMessages()).toContain("response 1 1 1 0");
});

test("a negative timeout is BAD_ARGUMENT", () => {
  const bytes = fixture({
    imports: ["proxy_http_call"],
    data: { c: "authz", get: GET, l: "dispatch" },
    body: `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
      (call $say1 {{l}} (call $proxy_http_call {{c}} {{get}} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 8)))
      (i32.const 1))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.startVm();
  expect(host.logMessages()).toEqual(["dispatch 2"]);
});

test("no tick without a tick period", () => {
  const host = ProxyWasmHost.load(fixture({ body: recorder("proxy_on_tick") }));
  host.tick();
  expect(host.logMessages()).toEqual([]);
});

test("a stream paused on headers resumes when the module calls proxy_continue_stream from a callback", () => {
  const bytes = fixture({
    imports: [
      "proxy_http_call",
      "proxy_set_effective_context",
      "proxy_continue_stream",
      "proxy_replace_header_map_value",
    ],
    data: { c: "authz", get: GET, k: "x-checked", v: "yes", e: "effective" },
    body: `(global $stream (mut i32) (i32.const 0))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (global.set $stream (local.get 0))
        (drop (call $proxy_http_call {{c}} {{get}} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 8)))
        (i32.const 1))
      (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
        (call $say2 {{e}} (call $proxy_set_effective_context (i32.const 999)) (call $proxy_set_effective_context (global.get $stream)))
        (drop (call $proxy_replace_header_map_value (i32.const 0) {{k}} {{v}}))
        (drop (call $proxy_continue_stream (i32.const 0))))`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  let resumed = "";
  s.onResume = (side) => {
    resumed = side;
  };
  expect(s.requestHeaders([[":path", "/"]])).toBe(HeadersAction.StopIteration);
  expect(s.request.paused).toBe(true);
  host.respondHttpCall(host.httpCalls[0]!.token, { headers: [[":status", "200"]] });
  expect(host.logMessages()).toEqual(["effective 2 0"]);
  expect(s.request.headers.get("x-checked")).toBe("yes");
  expect(s.request.paused).toBe(false);
  expect(resumed).toBe("request");
});
