import { describe, expect, it } from "vitest";
import { normalizeRequestPath } from "./request-path.js";

describe("normalizeRequestPath", () => {
  it.each([
    ["/", "/"],
    ["/api/v1/payment/42", "/api/v1/payment/42"],
    ["/api/v1/payment/42?x=1&y=2", "/api/v1/payment/42"],
    ["/search?q=../../etc", "/search"],
    ["/a#frag", "/a"],
    ["/a/", "/a/"],
    ["/%61dmin", "/admin"],
    ["/%41%42%43-%7e", "/ABC-~"],
    ["/a%20b", "/a%20b"],
    ["/a%c3%a9", "/a%C3%A9"],
    ["//admin", "/admin"],
    ["/a//b///c", "/a/b/c"],
    ["/a//", "/a/"],
    ["/.well-known/x", "/.well-known/x"],
    ["/a/..b/c.", "/a/..b/c."],
    ["/package.Service/Method", "/package.Service/Method"],
    ["*", "*"],
  ])("%s → %s", (input, expected) => {
    expect(normalizeRequestPath(input)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ["", "empty"],
    ["?x=1", "empty"],
    ["admin", "must start with '/'"],
    ["http://host/admin", "must start with '/'"],
    ["/admin/../x", "'.' or '..' segment"],
    ["/admin/..", "'.' or '..' segment"],
    ["/./admin", "'.' or '..' segment"],
    ["/x/%2e%2e/admin", "'.' or '..' segment"],
    ["/x/%2E/admin", "'.' or '..' segment"],
    ["/x/.%2e/admin", "'.' or '..' segment"],
    ["/admin%2Fsecret", "encoded slash"],
    ["/admin%2fsecret", "encoded slash"],
    ["/admin%5csecret", "encoded backslash"],
    ["/admin\\secret", "backslash"],
    ["/admin%2", "malformed percent-encoding"],
    ["/admin%zz", "malformed percent-encoding"],
    ["/admin%00", "encoded control character"],
    ["/admin\u0000", "control character"],
    ["/a\tb", "control character"],
  ])("rejects %j (%s)", (input, message) => {
    const result = normalizeRequestPath(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });

  it("returns the input itself when nothing needs rewriting", () => {
    const input = "/api/v1/orders";
    const result = normalizeRequestPath(input);
    expect(result.ok && result.path).toBe(input);
  });
});
