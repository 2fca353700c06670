// Header-map pair serialisation, pinned to the spec's worked example (with its 0x49 → 0x31 typo fixed).
import { expect, test } from "vitest";
import { fixture } from "./fixtures.js";
import { decodePairs, encodePairs, ProxyWasmHost } from "./index.js";

// {"a": "1", "b": "2"}: count 2, sizes (1,1),(1,1), then "a\0" "1\0" "b\0" "2\0".
const SPEC_EXAMPLE = Uint8Array.from([
  0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
  0x00, 0x61, 0x00, 0x31, 0x00, 0x62, 0x00, 0x32, 0x00,
]);

test("encodes the spec example byte for byte", () => {
  expect(
    Buffer.from(
      encodePairs([
        ["a", "1"],
        ["b", "2"],
      ]),
    ),
  ).toEqual(Buffer.from(SPEC_EXAMPLE));
});

test("decodes it back, including UTF-8 and empty values", () => {
  expect(decodePairs(SPEC_EXAMPLE)).toEqual([
    ["a", "1"],
    ["b", "2"],
  ]);
  const pairs: Array<[string, string]> = [
    ["x-ünïcode", "välue"],
    ["empty", ""],
    ["", "no-key"],
  ];
  expect(decodePairs(encodePairs(pairs))).toEqual(pairs);
});

test("a buffer shorter than 4 bytes or with a size table that does not fit is an empty list", () => {
  expect(decodePairs(new Uint8Array(0))).toEqual([]);
  expect(decodePairs(Uint8Array.of(0))).toEqual([]);
  expect(decodePairs(Uint8Array.of(9, 0, 0, 0, 1, 0, 0, 0))).toEqual([]);
});

test("the host hands the guest the request headers in exactly that format, keys lower-cased", () => {
  const bytes = fixture({
    imports: ["proxy_get_header_map_pairs"],
    data: { label: "pairs" },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (call $say_ret {{label}} (call $proxy_get_header_map_pairs (i32.const 0) (i32.const 0) (i32.const 4)))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.newHttpStream().requestHeaders([
    ["A", "1"],
    ["b", "2"],
  ]);
  expect(host.logMessages().at(-1)).toBe(`pairs 0 ${Buffer.from(SPEC_EXAMPLE).toString("hex")}`);
});

test("an empty map is handed over as ptr 0 / size 0 without calling malloc", () => {
  const bytes = fixture({
    imports: ["proxy_get_header_map_pairs"],
    data: { label: "pairs" },
    body: `(func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
      (i32.store (i32.const 0) (i32.const 77)) (i32.store (i32.const 4) (i32.const 77))
      (call $say2 {{label}} (call $proxy_get_header_map_pairs (i32.const 2) (i32.const 0) (i32.const 4)) (i32.load (i32.const 0)))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  host.newHttpStream().responseHeaders([]);
  expect(host.logMessages()).toEqual(["pairs 0 0"]);
});

test("the guest replaces a whole map with proxy_set_header_map_pairs (keys lower-cased)", () => {
  const bytes = fixture({
    imports: ["proxy_set_header_map_pairs"],
    data: {
      pairs: encodePairs([
        ["X-New", "v"],
        ["x-new", "w"],
      ]),
    },
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      (drop (call $proxy_set_header_map_pairs (i32.const 0) {{pairs}}))
      (i32.const 0))`,
  });
  const host = ProxyWasmHost.load(bytes);
  const s = host.newHttpStream();
  s.requestHeaders([
    [":path", "/"],
    ["old", "gone"],
  ]);
  expect(s.request.headers.pairs()).toEqual([
    ["x-new", "v"],
    ["x-new", "w"],
  ]);
});
