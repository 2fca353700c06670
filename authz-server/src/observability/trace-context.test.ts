import { describe, expect, it } from "vitest";
import { parentSpanContext, traceIdsOf } from "./trace-context.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("trace context from CheckRequest headers", () => {
  it("reads W3C traceparent and tracestate", () => {
    const s = parentSpanContext({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "vendor=x" });
    expect(s).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(s?.traceState?.get("vendor")).toBe("x");
  });

  it("reads B3 multi headers and the single b3 header, 64-bit trace ids padded", () => {
    expect(parentSpanContext({ "x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": "1" })).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
    });
    expect(parentSpanContext({ b3: `${TRACE}-${SPAN}-0` })).toMatchObject({ traceId: TRACE, traceFlags: 0 });
    expect(parentSpanContext({ "x-b3-traceid": "a3ce929d0e0e4736", "x-b3-spanid": SPAN })?.traceId).toBe(
      "0000000000000000a3ce929d0e0e4736",
    );
  });

  it("prefers W3C when both are present", () => {
    const other = "11111111111111111111111111111111";
    expect(
      parentSpanContext({ traceparent: `00-${TRACE}-${SPAN}-01`, "x-b3-traceid": other, "x-b3-spanid": SPAN })?.traceId,
    ).toBe(TRACE);
  });

  it("ignores missing, malformed and all-zero contexts", () => {
    expect(parentSpanContext({})).toBeNull();
    expect(parentSpanContext({ traceparent: "garbage" })).toBeNull();
    expect(parentSpanContext({ traceparent: `00-${"0".repeat(32)}-${SPAN}-01` })).toBeNull();
    expect(parentSpanContext({ "x-b3-traceid": "xyz" })).toBeNull();
  });
});

describe("traceIdsOf (the decision line's fast reader)", () => {
  it("agrees with OpenTelemetry's propagators on valid, odd and malformed headers", () => {
    const T = TRACE;
    const S = SPAN;
    const cases: Array<Record<string, string>> = [
      {},
      { traceparent: `00-${T}-${S}-01` },
      { traceparent: `00-${T}-${S}-01-extra` },
      { traceparent: `01-${T}-${S}-01-extra` },
      { traceparent: `ff-${T}-${S}-01` },
      { traceparent: ` 00-${T}-${S}-00 ` },
      { traceparent: `00-${T.toUpperCase()}-${S}-01` },
      { traceparent: `00-${"0".repeat(32)}-${S}-01`, "x-b3-traceid": T, "x-b3-spanid": S },
      { traceparent: "garbage", b3: `${T}-${S}-1` },
      { b3: `${T}-${S}` },
      { b3: `${T.slice(16)}-${S}-d` },
      { b3: `junk ${T}-${S}-0-${S}` },
      { b3: `${T}-${"0".repeat(16)}` },
      { b3: "", "x-b3-traceid": T, "x-b3-spanid": S },
      { b3: "0" },
      { "x-b3-traceid": T, "x-b3-spanid": S },
      { "x-b3-traceid": T.slice(12), "x-b3-spanid": S },
      { "x-b3-traceid": T.toUpperCase(), "x-b3-spanid": S.toUpperCase() },
      { "x-b3-traceid": T, "x-b3-spanid": S, "x-b3-sampled": "True" },
      { "x-b3-traceid": T, "x-b3-spanid": S, "x-b3-sampled": "yes" },
      { "x-b3-traceid": T, "x-b3-spanid": S, "x-b3-sampled": "yes", "x-b3-flags": "1" },
      { "x-b3-traceid": T, "x-b3-spanid": ` ${S}` },
      { "x-b3-traceid": "0", "x-b3-spanid": S },
      { "x-b3-traceid": T },
      { "x-b3-spanid": S },
    ];
    for (const headers of cases) {
      const reference = parentSpanContext(headers);
      const expected =
        reference === null
          ? null
          : { traceId: reference.traceId.toLowerCase(), spanId: reference.spanId.toLowerCase() };
      expect(traceIdsOf(headers), JSON.stringify(headers)).toEqual(expected);
    }
  });

  it("gives ids in lower case, whatever case the headers used", () => {
    const upper = { traceId: TRACE.toUpperCase(), spanId: SPAN.toUpperCase() };
    const cases: Array<Record<string, string>> = [
      { "x-b3-traceid": upper.traceId, "x-b3-spanid": upper.spanId, "x-b3-sampled": "1" },
      { "x-b3-traceid": upper.traceId.slice(16), "x-b3-spanid": upper.spanId },
    ];
    for (const headers of cases) {
      const ids = traceIdsOf(headers);
      expect(ids, JSON.stringify(headers)).not.toBeNull();
      expect(ids!.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ids!.spanId).toBe(SPAN);
    }
  });
});
