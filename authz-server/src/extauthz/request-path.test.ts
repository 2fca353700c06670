import { describe, expect, it } from "vitest";
import { requestPath } from "./request-path.js";

describe("requestPath", () => {
  it.each([
    ["/", "/"],
    ["/api/v1/payment/42", "/api/v1/payment/42"],
    ["/api/v1/payment/42?x=1&y=2", "/api/v1/payment/42"],
    ["/search?q=../../etc", "/search"],
    ["/a#frag", "/a"],
    ["/a/", "/a/"],
    // Nothing is decoded, merged or case-folded: Istio's matchers see the path as Envoy forwards it.
    ["/%61dmin", "/%61dmin"],
    ["/a%c3%a9", "/a%c3%a9"],
    ["//admin", "//admin"],
    ["/a//b///c", "/a//b///c"],
    ["/Admin", "/Admin"],
    ["/admin;jsessionid=1", "/admin;jsessionid=1"],
    ["/api/internal;/x", "/api/internal;/x"],
    ["/.well-known/x", "/.well-known/x"],
    ["/a/..b/c.", "/a/..b/c."],
    ["/a/...;/c", "/a/...;/c"],
    ["/a/%2e%2e%2e/c", "/a/%2e%2e%2e/c"],
    ["/package.Service/Method", "/package.Service/Method"],
    ["*", "*"],
  ])("%s → %s", (input, expected) => {
    expect(requestPath(input)).toEqual({ ok: true, path: expected });
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
    // A segment that reads as '.' or '..' once ';parameters' are cut (Tomcat, Jetty, Spring) is refused too.
    ["/api/..;/admin/secret", "'.' or '..' segment"],
    ["/api/%2e%2e;/admin/x", "'.' or '..' segment"],
    ["/api/.;/x", "'.' or '..' segment"],
    ["/api/..;jsessionid=1/admin", "'.' or '..' segment"],
    // Found by the differential fuzzer: an encoded semicolon cuts the segment for servers that decode first.
    ["/api/..%3b/admin", "'.' or '..' segment"],
    ["//api//..%3B/admin?a=1", "'.' or '..' segment"],
    ["/api/.%3Bx/admin", "'.' or '..' segment"],
    ["/api/.%2E;x=1", "'.' or '..' segment"],
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
    const result = requestPath(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });

  it("returns the input itself when there is no query", () => {
    const input = "/api/v1/orders";
    const result = requestPath(input);
    expect(result.ok && result.path).toBe(input);
  });
});
