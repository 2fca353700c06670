// The revocation list: polled from trustgate on every tick with proxy_http_call, versioned with
// ETag/If-None-Match, parsed strictly; on any failure the last list stays in force and is counted.
import { describe, expect, test } from "vitest";
import { LogLevel } from "../../test/proxy-wasm-host/index.js";
import { denyBody, mtlsPeer, ORDER_DIGEST, ORDER_ID, REQUEST, startFilter } from "./harness.js";

const REVOCATION = { cluster: "trustgate_admin", authority: "trustgate", path: "/v1/revocations", pollMs: 1000 };
const PAYMENT_ID = "spiffe://cluster.local/ns/services/sa/payment";

function listBody(version: number, spiffeIds: string[] = [], fingerprints: string[] = []): string {
  return JSON.stringify({ version, spiffeIds, fingerprints });
}

function poll(host: ReturnType<typeof startFilter>) {
  host.tick();
  const call = host.httpCalls.at(-1);
  if (!call) throw new Error("no poll was dispatched");
  return call;
}

function respond(host: ReturnType<typeof startFilter>, status: string, body = "") {
  const call = poll(host);
  host.respondHttpCall(call.token, {
    headers: [
      [":status", status],
      ["content-type", "application/json"],
    ],
    body,
  });
  return call;
}

function decide(host: ReturnType<typeof startFilter>, id = ORDER_ID, digest = ORDER_DIGEST) {
  const s = host.newHttpStream({ properties: mtlsPeer(id, digest) });
  s.requestHeaders(REQUEST);
  return s.localResponse;
}

describe("polling", () => {
  test("no revocation key: no tick period and no calls", () => {
    const host = startFilter({});
    expect(host.tickPeriodMs).toBe(0);
    host.tick();
    expect(host.httpCalls).toHaveLength(0);
  });

  test("polls GET <path> on the configured cluster every pollMs, with If-None-Match once it has a list", () => {
    const host = startFilter({ revocation: REVOCATION });
    expect(host.tickPeriodMs).toBe(1000);
    const first = poll(host);
    expect(first.upstream).toBe("trustgate_admin");
    expect(first.timeoutMs).toBe(1000);
    expect(first.headers).toEqual([
      [":method", "GET"],
      [":path", "/v1/revocations"],
      [":authority", "trustgate"],
    ]);
    host.respondHttpCall(first.token, { headers: [[":status", "200"]], body: listBody(3) });
    const second = poll(host);
    expect(second.headers).toContainEqual(["if-none-match", '"3"']);
    expect(second.token).not.toBe(first.token);
  });

  test("only one poll is in flight at a time", () => {
    const host = startFilter({ revocation: REVOCATION });
    host.tick();
    host.tick();
    host.tick();
    expect(host.httpCalls).toHaveLength(1);
  });

  test("authority defaults to the cluster name and timeoutMs to min(pollMs, 2000)", () => {
    const host = startFilter({
      revocation: { cluster: "outbound|9192||trustgate.trustgate.svc.cluster.local", pollMs: 5000 },
    });
    const call = poll(host);
    expect(call.headers).toContainEqual([":authority", "outbound|9192||trustgate.trustgate.svc.cluster.local"]);
    expect(call.timeoutMs).toBe(2000);
  });
});

describe("enforcement", () => {
  test("a revoked identity is denied 403 local/revoked; others pass", () => {
    const host = startFilter({ revocation: REVOCATION });
    expect(decide(host)).toBeNull();
    respond(host, "200", listBody(1, [ORDER_ID]));
    const reply = decide(host);
    expect(reply?.statusCode).toBe(403);
    expect(reply?.details).toBe("trustgate_revoked");
    expect(denyBody(reply!.body)).toMatchObject({
      policy: "local/revoked",
      rule: 0,
      reason: `peer identity "${ORDER_ID}" is revoked`,
    });
    expect(decide(host, PAYMENT_ID)).toBeNull();
    expect(host.metric("trustgate_filter_revocation_list_version")?.value).toBe(1n);
    expect(host.metric("trustgate_filter_local_denies_revoked_total")?.value).toBe(1n);
  });

  test("a revoked certificate fingerprint is denied whatever the identity", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", listBody(2, [], [`sha256:${ORDER_DIGEST}`]));
    const reply = decide(host, PAYMENT_ID);
    expect(denyBody(reply!.body).reason).toBe(`peer certificate sha256:${ORDER_DIGEST} is revoked`);
    expect(host.metric("trustgate_filter_revocation_list_entries")?.value).toBe(1n);
  });

  test("a new list replaces the old one (un-revocation takes effect)", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", listBody(1, [ORDER_ID]));
    expect(decide(host)?.statusCode).toBe(403);
    respond(host, "200", listBody(2, []));
    expect(decide(host)).toBeNull();
    expect(host.metric("trustgate_filter_revocation_list_version")?.value).toBe(2n);
  });

  test("denyRevoked: false keeps polling but does not deny", () => {
    const host = startFilter({ revocation: REVOCATION, denyRevoked: false });
    respond(host, "200", listBody(1, [ORDER_ID]));
    expect(decide(host)).toBeNull();
  });

  test("revocation still applies when the service is unreachable: the list is local", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", listBody(1, [ORDER_ID]));
    for (let i = 0; i < 3; i++) host.failHttpCall(poll(host).token);
    expect(decide(host)?.statusCode).toBe(403);
  });
});

describe("failures keep the last list and are counted", () => {
  const failures: Array<[string, (host: ReturnType<typeof startFilter>) => void, RegExp]> = [
    ["call failure (num_headers 0)", (h) => h.failHttpCall(poll(h).token), /the call failed/],
    ["HTTP 500", (h) => respond(h, "500", "oops"), /unexpected HTTP status 500/],
    ["HTTP 404", (h) => respond(h, "404"), /unexpected HTTP status 404/],
    ["malformed JSON", (h) => respond(h, "200", '{"version":2,'), /malformed JSON/],
    ["version 0", (h) => respond(h, "200", listBody(0)), /"version" must be a positive integer/],
    [
      "fractional version",
      (h) => respond(h, "200", '{"version":2.5,"spiffeIds":[],"fingerprints":[]}'),
      /positive integer/,
    ],
    [
      "unknown key",
      (h) => respond(h, "200", '{"version":2,"spiffeIds":[],"fingerprints":[],"x":1}'),
      /unknown key "x"/,
    ],
    [
      "missing fingerprints",
      (h) => respond(h, "200", '{"version":2,"spiffeIds":[]}'),
      /"fingerprints" must be an array/,
    ],
    [
      "invalid SPIFFE ID",
      (h) => respond(h, "200", listBody(2, ["spiffe://Bad/x"])),
      /spiffeIds\[0\] is not a valid SPIFFE ID/,
    ],
    ["invalid fingerprint", (h) => respond(h, "200", listBody(2, [], ["sha256:ABC"])), /fingerprints\[0\]/],
    ["empty body", (h) => respond(h, "200", ""), /body size 0/],
    ["body over 4 MiB", (h) => respond(h, "200", " ".repeat(4 * 1024 * 1024 + 1)), /outside 1\.\.4194304/],
    ["304 before any list", (h) => respond(h, "304"), /unexpected HTTP status 304/],
    [
      "no :status",
      (h) => h.respondHttpCall(poll(h).token, { headers: [["content-type", "x"]], body: "{}" }),
      /no :status/,
    ],
  ];

  test.each(failures)("%s", (name, fail, reason) => {
    const host = startFilter({ revocation: REVOCATION });
    if (name !== "304 before any list") respond(host, "200", listBody(1, [ORDER_ID]));
    fail(host);
    expect(host.metric("trustgate_filter_revocation_poll_failures_total")?.value).toBe(1n);
    const warning = host.logMessages(LogLevel.Warn).at(-1) ?? "";
    expect(warning).toMatch(/^trustgate: revocation poll failed: /);
    expect(warning).toMatch(reason);
    if (name !== "304 before any list") {
      expect(warning).toMatch(/keeping list version 1$/);
      expect(decide(host)?.statusCode).toBe(403); // the old list is still in force
      expect(host.metric("trustgate_filter_revocation_list_version")?.value).toBe(1n);
    }
    expect(host.failed).toBe(false);
  });

  test("304 Not Modified is a successful, unchanged poll", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", listBody(7, [ORDER_ID]));
    respond(host, "304");
    expect(host.metric("trustgate_filter_revocation_polls_total")?.value).toBe(2n);
    expect(host.metric("trustgate_filter_revocation_poll_failures_total")?.value).toBe(0n);
    expect(decide(host)?.statusCode).toBe(403);
  });

  test("an unknown cluster fails to dispatch (BAD_ARGUMENT) and is counted", () => {
    const host = startFilter({ revocation: REVOCATION }, { clusters: ["other"] });
    host.tick();
    expect(host.httpCalls).toHaveLength(0);
    expect(host.metric("trustgate_filter_revocation_poll_failures_total")?.value).toBe(1n);
    expect(host.logMessages(LogLevel.Warn).at(-1)).toMatch(
      /could not dispatch the call to cluster trustgate_admin \(status 2\)/,
    );
  });

  test("a lower version replaces the list like any other (versions are content digests, not counters)", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", listBody(9, [ORDER_ID]));
    expect(decide(host)?.statusCode).toBe(403);
    respond(host, "200", listBody(1, []));
    expect(decide(host)).toBeNull();
    expect(host.logMessages(LogLevel.Warn)).toEqual([]);
    expect(host.logMessages(LogLevel.Info).at(-1)).toMatch(
      /revocation list version 9 -> 1 \(0 identities, 0 fingerprints\)/,
    );
    expect(host.metric("trustgate_filter_revocation_list_version")?.value).toBe(1n);
  });

  test("any valid JSON spelling of the list is accepted: whitespace, key order, escapes (in keys too)", () => {
    const host = startFilter({ revocation: REVOCATION });
    const escaped = ORDER_ID.replaceAll("/", "\\/").replace("s", "\\u0073");
    respond(host, "200", `\n{ "fingerprints" : [ ] ,\t"spiffeIds" : [ "${escaped}" ] , "\\u0076ersion" : 12 }\r\n`);
    expect(decide(host)?.statusCode).toBe(403);
    expect(host.metric("trustgate_filter_revocation_list_version")?.value).toBe(12n);
  });

  test("a duplicate key is a failure; an unknown key is quoted at most 64 characters", () => {
    const host = startFilter({ revocation: REVOCATION });
    respond(host, "200", '{"version":2,"fingerprints":[],"version":3,"spiffeIds":[]}');
    expect(host.logMessages(LogLevel.Warn).at(-1)).toMatch(/duplicate key "version"/);
    respond(host, "200", `{"version":2,"${"k".repeat(10_000)}":1}`);
    expect(host.logMessages(LogLevel.Warn).at(-1)).toMatch(new RegExp(`unknown key "${"k".repeat(64)}…"; keeping`));
    expect(host.metric("trustgate_filter_revocation_poll_failures_total")?.value).toBe(2n);
  });

  test("a large list (10,000 identities) is parsed and enforced", () => {
    const host = startFilter({ revocation: REVOCATION });
    const ids = Array.from({ length: 10_000 }, (_, i) => `spiffe://cluster.local/ns/n${i}/sa/w${i}`);
    respond(host, "200", listBody(4, ids));
    expect(decide(host, "spiffe://cluster.local/ns/n9999/sa/w9999")?.statusCode).toBe(403);
    expect(decide(host, "spiffe://cluster.local/ns/n10000/sa/w10000")).toBeNull();
  });
});
