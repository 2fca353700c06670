// Plugin configuration: strict parsing; an invalid configuration makes proxy_on_configure return
// false with an error log line that says what is wrong (Envoy then rejects it).
import { expect, test } from "vitest";
import { LogLevel, ProxyWasmHost } from "../../test/proxy-wasm-host/index.js";
import { filterBytes, mtlsPeer, REQUEST } from "./harness.js";

function configure(config: string): { ok: boolean; errors: string[]; host: ProxyWasmHost } {
  const host = ProxyWasmHost.load(filterBytes(), { pluginConfig: config, logLevel: LogLevel.Debug });
  expect(host.startVm()).toBe(true);
  const ok = host.configure();
  expect(host.failed).toBe(false); // never a trap, whatever the input
  return { ok, errors: host.logMessages(LogLevel.Error), host };
}

test("empty configuration and {} mean the defaults", () => {
  for (const config of ["", "{}", " \n{ }\t"]) {
    const { ok, host } = configure(config);
    expect(ok).toBe(true);
    const s = host.newHttpStream();
    s.requestHeaders(REQUEST);
    expect(s.localResponse?.statusCode).toBe(401); // requireMtls defaults to true
  }
});

test("a full valid configuration is accepted", () => {
  const { ok, host } = configure(
    JSON.stringify({
      requireMtls: true,
      allowedTrustDomains: ["cluster.local"],
      headerPrefix: "x-trustgate-",
      stripHeaders: ["x-forwarded-client-cert"],
      denyForeignTrustDomain: true,
      denyRevoked: true,
      revocation: {
        cluster: "trustgate_admin",
        authority: "trustgate",
        path: "/v1/revocations",
        pollMs: 1000,
        timeoutMs: 500,
      },
    }),
  );
  expect(ok).toBe(true);
  expect(host.tickPeriodMs).toBe(1000);
  host.newHttpStream({ properties: mtlsPeer() }).requestHeaders(REQUEST);
});

test("JSON escapes in strings are decoded (one pass, any number of them)", () => {
  const { ok, host } = configure(
    `{"revocation": {"cluster": "c", "path": "\\/v1\\/revocations", "authority": "${"\\u0061".repeat(2000)}"}}`,
  );
  expect(ok).toBe(true);
  host.tick();
  expect(host.httpCalls[0]?.headers).toContainEqual([":path", "/v1/revocations"]);
  expect(host.httpCalls[0]?.headers).toContainEqual([":authority", "a".repeat(2000)]);
});

const invalid: Array<[string, string, string]> = [
  ["not JSON", "{requireMtls: true}", "not valid JSON: expected a string key at byte 1"],
  ["trailing data", "{} {}", "not valid JSON: unexpected data after the JSON value at byte 3"],
  ["an array", "[]", "must be a JSON object, not an array"],
  ["unknown key (typo)", '{"requireMTLS": false}', 'unknown key "requireMTLS"'],
  ["duplicate key", '{"requireMtls": true, "requireMtls": false}', 'duplicate key "requireMtls"'],
  ["wrong type", '{"requireMtls": "false"}', '"requireMtls" must be a boolean, not a string'],
  ["deny toggle type", '{"denyRevoked": 0}', '"denyRevoked" must be a boolean, not a number'],
  [
    "trust domain type",
    '{"allowedTrustDomains": "cluster.local"}',
    '"allowedTrustDomains" must be an array of strings',
  ],
  [
    "upper-case trust domain",
    '{"allowedTrustDomains": ["Cluster.Local"]}',
    '"allowedTrustDomains[0]" is not a valid trust domain',
  ],
  ["empty prefix", '{"headerPrefix": ""}', '"headerPrefix" must be an HTTP header name prefix'],
  ["prefix with space", '{"headerPrefix": "x trust-"}', '"headerPrefix" must be an HTTP header name prefix'],
  ["pseudo header strip", '{"stripHeaders": [":authority"]}', '"stripHeaders[0]" is not a valid HTTP header name'],
  ["revocation type", '{"revocation": true}', '"revocation" must be an object, not a boolean'],
  ["revocation without cluster", '{"revocation": {"pollMs": 1000}}', '"revocation.cluster" is required'],
  ["revocation unknown key", '{"revocation": {"cluster": "c", "interval": 5}}', 'unknown key "revocation.interval"'],
  [
    "pollMs too small",
    '{"revocation": {"cluster": "c", "pollMs": 10}}',
    '"revocation.pollMs" must be an integer from 100',
  ],
  ["pollMs fraction", '{"revocation": {"cluster": "c", "pollMs": 1000.5}}', '"revocation.pollMs" must be an integer'],
  [
    "path without slash",
    '{"revocation": {"cluster": "c", "path": "v1/revocations"}}',
    '"revocation.path" must start with "/"',
  ],
  [
    "authority with space",
    '{"revocation": {"cluster": "c", "authority": "a b"}}',
    '"revocation.authority" must be a non-empty string',
  ],
  ["non-ASCII", '{"headerPrefix": "x-trüst-"}', "non-ASCII character in string"],
  ["deep nesting", `{"revocation": ${"[".repeat(100)}`, "nesting too deep"],
  [
    "too many keys (bounds the duplicate-key check)",
    `{${Array.from({ length: 65 }, (_, i) => `"k${i}":0`).join(",")}}`,
    "more than 64 keys",
  ],
  [
    "a list over 256 entries",
    JSON.stringify({ stripHeaders: Array.from({ length: 257 }, (_, i) => `x-h${i}`) }),
    '"stripHeaders" has more than 256 entries',
  ],
  ["bad \\u escape", '{"headerPrefix": "x-\\u00zz"}', "invalid \\u escape"],
  ["non-ASCII \\u escape", '{"headerPrefix": "x-\\u00e9"}', "non-ASCII character in string"],
];

test.each(invalid)("%s is rejected with a clear log line", (_name, config, message) => {
  const { ok, errors } = configure(config);
  expect(ok).toBe(false);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("trustgate: invalid plugin configuration: ");
  expect(errors[0]).toContain(message);
});

test("a rejected reconfiguration keeps the previous configuration in force", () => {
  const { host } = configure(JSON.stringify({ requireMtls: false }));
  expect(host.configure('{"requireMtls": "no"}')).toBe(false);
  const s = host.newHttpStream();
  s.requestHeaders(REQUEST);
  expect(s.localResponse).toBeNull(); // still requireMtls: false
});
