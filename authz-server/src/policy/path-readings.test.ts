import { describe, expect, it } from "vitest";
import { pathReadings } from "./path-readings.js";

describe("pathReadings (DENY rules only)", () => {
  it.each([
    ["/api/v1", ["/api/v1"]],
    ["/ADMIN", ["/admin"]],
    ["//admin", ["//admin", "/admin"]],
    ["/admin;jsessionid=1", ["/admin;jsessionid=1", "/admin"]],
    ["/api/internal;/x", ["/api/internal;/x", "/api/internal/x"]],
    ["/api/;x/admin", ["/api/;x/admin", "/api/admin"]],
    // Found by the differential fuzzer: an encoded semicolon starts parameters for servers that decode first.
    ["/admin%3b/us%65rs", ["/admin%3b/us%65rs", "/admin%3b/users", "/admin/users"]],
    ["/orders%3Bx", ["/orders%3bx", "/orders"]],
    ["/%61dmin", ["/%61dmin", "/admin"]],
    ["/Admin%2fX;a=b//c", ["/admin%2fx;a=b//c", "/admin%2fx;a=b/c", "/admin%2fx/c"]],
    ["/a//", ["/a//", "/a/", "/a"]],
    // Express, Rails and Spring MVC before 6 serve a trailing-slash path from the handler without it.
    ["/admin/", ["/admin/", "/admin"]],
    ["/Admin;x/", ["/admin;x/", "/admin/", "/admin;x", "/admin"]],
    ["/", ["/"]],
    ["*", ["*"]],
  ])("%s → %j", (path, readings) => {
    expect(pathReadings(path)).toEqual(readings);
  });

  it("returns the path itself (no copy) when nothing needs another reading", () => {
    const path = "/api/v1/orders";
    expect(pathReadings(path)[0]).toBe(path);
  });
});
