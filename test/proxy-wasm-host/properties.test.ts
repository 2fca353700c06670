// Property encodings as Envoy serialises them, read by a guest through proxy_get_property.
import { expect, test } from "vitest";
import { fixture } from "./fixtures.js";
import { encodeProperty, ProxyWasmHost, prop } from "./index.js";

test("encodings: string raw, int/uint/double 8 bytes LE, bool 1 byte, map/list as pairs", () => {
  expect(Buffer.from(encodeProperty("spiffe://x")).toString()).toBe("spiffe://x");
  expect(Buffer.from(encodeProperty(true)).toString("hex")).toBe("01");
  expect(Buffer.from(encodeProperty(false)).toString("hex")).toBe("00");
  expect(Buffer.from(encodeProperty(prop.int(51234))).toString("hex")).toBe("22c8000000000000");
  expect(Buffer.from(encodeProperty(prop.int(-1))).toString("hex")).toBe("ffffffffffffffff");
  expect(Buffer.from(encodeProperty(prop.uint(2n ** 64n - 2n))).toString("hex")).toBe("feffffffffffffff");
  expect(Buffer.from(encodeProperty(prop.double(1.5))).toString("hex")).toBe("000000000000f83f");
  expect(Buffer.from(encodeProperty(prop.map({ a: "1" }))).toString("hex")).toBe(
    "0100000001000000010000006100" + "3100",
  );
  expect(Buffer.from(encodeProperty(prop.list(["a"]))).toString("hex")).toBe("01000000010000000000000061000" + "0");
});

function probe(paths: Record<string, string>) {
  const data: Record<string, string> = {};
  const calls: string[] = [];
  for (const [label, path] of Object.entries(paths)) {
    data[`l_${label}`] = label;
    data[`p_${label}`] = path;
    calls.push(
      `(i32.store (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const 0))
      (call $say_ret {{l_${label}}} (call $proxy_get_property {{p_${label}}} (i32.const 0) (i32.const 4)))`,
    );
  }
  return fixture({
    imports: ["proxy_get_property"],
    data,
    body: `(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
      ${calls.join("\n      ")}
      (i32.const 0))`,
  });
}

test("the guest reads each encoding; absent is NOT_FOUND (1), empty is OK with nothing copied", () => {
  const bytes = probe({
    san: "connection\0uri_san_peer_certificate",
    mtls: "connection\0mtls",
    port: "source\0port",
    trailing: "connection\0mtls\0",
    missing: "connection\0dns_san_peer_certificate",
    empty: "connection\0requested_server_name",
    root: "plugin_root_id",
  });
  const host = ProxyWasmHost.load(bytes, {
    rootId: "trustgate",
    properties: {
      "connection.mtls": true,
      "connection.uri_san_peer_certificate": "spiffe://a/b",
      "source.port": prop.int(443),
      "connection.requested_server_name": "",
    },
  });
  host.newHttpStream().requestHeaders([]);
  const lines = host.logMessages().filter((l) => !l.startsWith("malloc"));
  expect(lines).toEqual([
    `san 0 ${Buffer.from("spiffe://a/b").toString("hex")}`,
    "mtls 0 01",
    "port 0 bb01000000000000",
    "trailing 0 01",
    "missing 1 ", // NOT_FOUND: nothing is written into the return slots
    "empty 0 ",
    `root 0 ${Buffer.from("trustgate").toString("hex")}`,
  ]);
});

test("per-stream properties override host-level ones; other streams keep the host's", () => {
  const bytes = probe({ san: "connection\0uri_san_peer_certificate" });
  const host = ProxyWasmHost.load(bytes, { properties: { "connection.uri_san_peer_certificate": "host" } });
  host.newHttpStream({ properties: { "connection.uri_san_peer_certificate": "stream" } }).requestHeaders([]);
  host.newHttpStream().requestHeaders([]);
  const lines = host.logMessages().filter((l) => l.startsWith("san"));
  expect(lines).toEqual([
    `san 0 ${Buffer.from("stream").toString("hex")}`,
    `san 0 ${Buffer.from("host").toString("hex")}`,
  ]);
});

test("segments with dots use the array form", () => {
  const bytes = probe({ md: "metadata\0filter_metadata\0envoy.lb\0canary" });
  const host = ProxyWasmHost.load(bytes);
  host.setProperty(["metadata", "filter_metadata", "envoy.lb", "canary"], true);
  host.newHttpStream().requestHeaders([]);
  expect(host.logMessages().at(-1)).toBe("md 0 01");
});
