import { describe, expect, it } from "vitest";
import { parentSpanContext } from "./trace-context.js";

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
