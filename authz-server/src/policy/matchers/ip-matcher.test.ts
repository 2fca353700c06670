import { describe, expect, it } from "vitest";
import { IpMatcher, parseIpBlock } from "./ip-matcher.js";

function matcher(...blocks: string[]): IpMatcher {
  return new IpMatcher(
    () => "",
    blocks.map((b) => {
      const parsed = parseIpBlock(b);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.block;
    }),
  );
}

describe("IpMatcher (Envoy CIDR ranges)", () => {
  it("matches addresses of the range's own family only", () => {
    expect(matcher("10.0.0.0/8").test("10.1.2.3")).toBe(true);
    expect(matcher("10.0.0.0/8").test("::ffff:10.1.2.3")).toBe(false);
    expect(matcher("::ffff:0:0/96").test("10.1.2.3")).toBe(false);
    expect(matcher("::ffff:0:0/96").test("::ffff:10.1.2.3")).toBe(true);
    expect(matcher("fd00::/8", "10.0.0.1").test("fd00::1")).toBe(true);
    expect(matcher("10.0.0.1").test("10.0.0.2")).toBe(false);
    expect(matcher("10.0.0.1").test("")).toBe(false);
  });

  it.each(["1.2.3", "10.0.0.0/33", "10.0.0.0/08", "fe80::1%eth0", "fe80::/64%x", "::/129"])("refuses %s", (raw) => {
    expect(parseIpBlock(raw).ok).toBe(false);
  });
});
