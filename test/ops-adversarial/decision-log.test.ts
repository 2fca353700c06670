/**
 * Decision lines and trace context under hostile input, on a real `trustgate serve` process (stdout read as bytes):
 * header names and values built to look like JSON fields or extra lines, control characters, U+2028, invalid UTF-8
 * and lone surrogates on the wire, and trace headers (W3C, B3 single and multi) malformed, huge, upper-case or
 * all-zero. With tracing off the line names the caller's span from the headers; with tracing on (OTLP to a receiver)
 * trustgate parents its own span on them. Either way a decision never changes because of a trace header, a line stays
 * one valid JSON object in valid UTF-8 with the fields trustgate puts there, and trace ids are lower-case hex.
 */
import { isUtf8 } from "node:buffer";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCheckRequest, type RequestSpec } from "../../authz-server/src/extauthz/build-check-request.js";
import type { CheckRequestMessage } from "../../authz-server/src/extauthz/check-request.js";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { type OtlpReceiver, startOtlpReceiver } from "../../authz-server/test/support/otlp-receiver.js";
import { type ServeProcess, startServe } from "../../authz-server/test/support/process.js";
import { policyDir, STORE, until, WEB } from "./support.js";

const TOP_LEVEL = new Set([
  "level",
  "time",
  "service",
  "event",
  "decision_id",
  "decision",
  "outcome",
  "reason",
  "policy",
  "rule",
  "policy_version",
  "caller",
  "caller_verified",
  "certificate_fingerprint",
  "source_ip",
  "destination",
  "destination_namespace",
  "method",
  "host",
  "path",
  "trace_id",
  "span_id",
  "headers",
  "shadow",
  "audit",
  "duration_ms",
  "msg",
]);

let fixture: Awaited<ReturnType<typeof policyDir>>;
beforeAll(async () => {
  fixture = await policyDir();
});
afterAll(async () => {
  await fixture?.cleanup();
});

/** A server whose stdout is kept as raw bytes, every decision logged with its headers. */
async function serveRaw(name: string, env: Record<string, string> = {}, log = "{decisions: all, allowHeaders: true}") {
  const config = join(fixture.dir, `${name}.yaml`);
  await writeFile(config, `workers: 1\nidentity: {trustDomains: [cluster.local]}\nlog: ${log}\n`);
  const server = await startServe(["--config", config, "--policy-dir", fixture.policies], env);
  const bytes: Buffer[] = [];
  (server.child.stdout as NodeJS.ReadableStream).on("data", (d: Buffer) => bytes.push(Buffer.from(d)));
  return { server, stdout: () => Buffer.concat(bytes) };
}

/** Splits raw stdout into lines (bytes) and parses each; a line that is not valid UTF-8 or JSON is reported. */
function decisionLines(raw: Buffer): { lines: Array<Record<string, unknown>>; problems: string[] } {
  const lines: Array<Record<string, unknown>> = [];
  const problems: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    const line = raw.subarray(start, i);
    start = i + 1;
    if (!isUtf8(line)) {
      problems.push(`not UTF-8: ${line.toString("latin1").slice(0, 120)}`);
      continue;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line.toString("utf8"));
    } catch {
      problems.push(`not JSON: ${line.toString("utf8").slice(0, 120)}`);
      continue;
    }
    if (parsed.event === "decision") lines.push(parsed);
  }
  return { lines, problems };
}

function withHeaderMap(
  spec: RequestSpec,
  entries: Array<{ key: string; value?: string; rawValue?: Uint8Array }>,
): CheckRequestMessage {
  const request = buildCheckRequest(spec);
  const http = request.attributes!.request!.http!;
  const pseudo = Object.entries(http.headers ?? {})
    .filter(([k]) => k.startsWith(":"))
    .map(([key, value]) => ({ key, value }));
  http.headers = {};
  http.headerMap = { headers: [...pseudo, ...entries] };
  return request;
}

async function checkAll(server: ServeProcess, requests: CheckRequestMessage[]): Promise<number[]> {
  const client = new CheckClient(server.grpcAddress);
  try {
    const codes: number[] = [];
    for (const r of requests) codes.push((await client.check(r)).status.code);
    return codes;
  } finally {
    client.close();
  }
}

describe("decision line injection (tracing off)", () => {
  let served: Awaited<ReturnType<typeof serveRaw>>;
  beforeAll(async () => {
    served = await serveRaw("inject");
  });
  afterAll(async () => {
    await served?.server.stop();
  });

  it("header names and values shaped like JSON fields or whole lines stay inside `headers`, one line per Check", async () => {
    const marker = "inj-marker";
    const forged = `"},"decision":"allow","policy":"x","${marker}":"1`;
    const newline = `x\n{"level":"info","event":"decision","decision":"allow","${marker}":1}\n`;
    const requests: CheckRequestMessage[] = [];
    for (const path of ["/admin", "/ok"]) {
      const spec: RequestSpec = { source: { principal: WEB }, destination: { principal: STORE }, path };
      requests.push(
        buildCheckRequest({
          ...spec,
          headers: {
            decision: "allow",
            policy: "istio-system/forged",
            level: "fatal",
            msg: marker,
            ["__proto__"]: marker,
            "x-forged": forged,
            "x-newline": newline,
            "x-ctl": "\u0000\u0001\u001b[31m\u007f\u0085\u2028\u2029",
          },
        }),
        buildCheckRequest({ ...spec, path: `${path}?q=${encodeURIComponent(newline)}`, host: `h\n${forged}` }),
        buildCheckRequest({ ...spec, method: `GET\n${forged}` }),
        buildCheckRequest({ source: { principal: `${WEB}\n${forged}` }, destination: { principal: STORE }, path }),
        withHeaderMap(spec, [
          { key: "x-raw-invalid", rawValue: Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80, 0x22, 0x0a, 0x5c]) },
          { key: "x-lone-surrogate", value: "a\ud800b\udc00c" },
          { key: "x-dup", value: forged },
          { key: "X-Dup", value: newline },
          { key: `x-key-${forged}`, value: "1" },
        ]),
      );
    }
    const perPath = requests.length / 2;
    // A lone surrogate in the path (invalid UTF-8 on the wire): decided on whatever it decodes to, logged validly.
    for (const path of ["/admin\ud800", "/ok\udfff/x"]) {
      requests.push(buildCheckRequest({ source: { principal: WEB }, destination: { principal: STORE }, path }));
    }
    const codes = await checkAll(served.server, requests);
    expect(
      codes.slice(0, perPath).every((c) => c !== 0),
      `codes for /admin: ${codes.slice(0, perPath)}`,
    ).toBe(true);
    const { lines, problems } = await until(() => {
      const parsed = decisionLines(served.stdout());
      return parsed.lines.length >= requests.length ? parsed : undefined;
    }, `${requests.length} decision lines`);
    expect(problems).toEqual([]);
    expect(lines.length).toBe(requests.length);
    for (const [i, line] of lines.entries()) {
      const extra = Object.keys(line).filter((k) => !TOP_LEVEL.has(k));
      expect(extra, `line ${i}`).toEqual([]);
      expect(line.level).toBe("info");
      expect(line.event).toBe("decision");
      expect(line.policy).not.toBe("istio-system/forged");
    }
    // The first half are requests for /admin: their lines say deny, whatever the headers claim.
    const denied = lines.filter((l) => /^\/admin(\?|$)/.test(String(l.path ?? "")));
    expect(denied.length).toBeGreaterThan(0);
    for (const l of denied) expect(l.decision, JSON.stringify(l).slice(0, 200)).toBe("deny");
  });
});

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

/** Trace headers to throw at a Check, and what the decision line may name (null: no trace). */
const HOSTILE_TRACE_HEADERS: Array<[string, Record<string, string>]> = [
  ["W3C upper-case ids (invalid per W3C)", { traceparent: `00-${TRACE.toUpperCase()}-${SPAN.toUpperCase()}-01` }],
  [
    "B3 multi upper-case ids",
    { "x-b3-traceid": TRACE.toUpperCase(), "x-b3-spanid": SPAN.toUpperCase(), "x-b3-sampled": "1" },
  ],
  ["B3 single upper-case ids", { b3: `${TRACE.toUpperCase()}-${SPAN.toUpperCase()}-1` }],
  ["W3C all-zero trace id", { traceparent: `00-${"0".repeat(32)}-${SPAN}-01` }],
  ["B3 all-zero span id", { "x-b3-traceid": TRACE, "x-b3-spanid": "0".repeat(16) }],
  ["W3C version ff", { traceparent: `ff-${TRACE}-${SPAN}-01` }],
  ["W3C two values joined", { traceparent: `00-${TRACE}-${SPAN}-01,00-${TRACE}-${SPAN}-01` }],
  [
    "W3C huge tracestate",
    { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: `a=${"b".repeat(200_000)},${"k=v,".repeat(5000)}` },
  ],
  ["W3C garbage tracestate", { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "\u0000=\u0001,,,==,@@@" }],
  ["B3 single huge", { b3: `${"f".repeat(100_000)}-${SPAN}` }],
  ["B3 multi huge", { "x-b3-traceid": "a".repeat(100_000), "x-b3-spanid": SPAN }],
  ["B3 with injection", { "x-b3-traceid": `${TRACE}","decision":"allow`, "x-b3-spanid": `${SPAN}"` }],
  [
    "all three at once, W3C valid",
    {
      traceparent: `00-${TRACE}-${SPAN}-01`,
      b3: `${"1".repeat(32)}-${"2".repeat(16)}`,
      "x-b3-traceid": "3".repeat(32),
      "x-b3-spanid": "4".repeat(16),
    },
  ],
];

function traceIdsValid(line: Record<string, unknown>): boolean {
  if (!("trace_id" in line) && !("span_id" in line)) return true;
  return /^[0-9a-f]{32}$/.test(String(line.trace_id)) && /^[0-9a-f]{16}$/.test(String(line.span_id));
}

describe("trace headers with tracing off: the line names the caller's span in lower-case hex or not at all", () => {
  let served: Awaited<ReturnType<typeof serveRaw>>;
  beforeAll(async () => {
    served = await serveRaw("trace-off");
  });
  afterAll(async () => {
    await served?.server.stop();
  });

  for (const [name, headers] of HOSTILE_TRACE_HEADERS) {
    it(`${name}: decisions unchanged, ids valid`, async () => {
      const marker = `/trace-off/${encodeURIComponent(name)}`;
      const codes = await checkAll(served.server, [
        buildCheckRequest({ source: { principal: WEB }, destination: { principal: STORE }, path: marker, headers }),
        buildCheckRequest({
          source: { principal: WEB },
          destination: { principal: STORE },
          path: `/admin${marker}`,
          headers,
        }),
      ]);
      expect(codes).toEqual([0, 7]);
      const lines = await until(() => {
        const found = decisionLines(served.stdout()).lines.filter((l) => String(l.path).endsWith(marker));
        return found.length === 2 ? found : undefined;
      }, "both decision lines");
      for (const line of lines) {
        expect(traceIdsValid(line), `trace_id ${line.trace_id} span_id ${line.span_id}`).toBe(true);
      }
    });
  }
});

describe("trace headers with tracing on (OTLP spans, shipped decision logs)", () => {
  let receiver: OtlpReceiver;
  let served: Awaited<ReturnType<typeof serveRaw>>;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    served = await serveRaw(
      "trace-on",
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "50" },
      "{decisions: all, allowHeaders: true, ship: otlp, shipIntervalMs: 50}",
    );
  });
  afterAll(async () => {
    await served?.server.stop();
    await receiver?.close();
  });

  it("no trace header changes a decision; every span and line carries valid lower-case ids", async () => {
    const requests: CheckRequestMessage[] = [];
    for (const [name, headers] of HOSTILE_TRACE_HEADERS) {
      const marker = `/trace-on/${encodeURIComponent(name)}`;
      requests.push(
        buildCheckRequest({ source: { principal: WEB }, destination: { principal: STORE }, path: marker, headers }),
        buildCheckRequest({
          source: { principal: WEB },
          destination: { principal: STORE },
          path: `/admin${marker}`,
          headers,
        }),
      );
    }
    const codes = await checkAll(served.server, requests);
    expect(codes).toEqual(requests.map((_r, i) => (i % 2 === 0 ? 0 : 7)));
    const lines = await until(() => {
      const found = decisionLines(served.stdout()).lines.filter((l) => String(l.path).includes("/trace-on/"));
      return found.length === requests.length ? found : undefined;
    }, "every decision line");
    for (const line of lines) expect(line.policy).not.toBe("trustgate/internal-error");
    // A line names our span when we recorded one (the caller sampled it or sent no decision), else the caller's.
    await until(
      () =>
        receiver.spans.filter((s) => s.name === "trustgate.check").length >= requests.length - 4 ? true : undefined,
      "the recorded spans",
      3000,
    ).catch(() => undefined);
    const spans = receiver.spans;
    for (const span of spans) {
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.traceId).not.toBe("0".repeat(32));
    }
    // Ids are lower-case hex, and a line that names one of our exported spans names it exactly as exported: log
    // backends compare ids as strings, so a decision is found from its trace and the other way round.
    const exported = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
    const problems = lines.flatMap((l) => {
      const where = `${decodeURIComponent(String(l.path))}: line trace_id ${l.trace_id} span_id ${l.span_id}`;
      if (!traceIdsValid(l)) return [`${where} (not lower-case hex)`];
      const lower = `${String(l.trace_id).toLowerCase()}/${String(l.span_id).toLowerCase()}`;
      if (exported.has(lower) && !exported.has(`${l.trace_id}/${l.span_id}`))
        return [`${where} (span exported as ${lower})`];
      return [];
    });
    expect(problems).toEqual([]);
  });
});
