import { describe, expect, it } from "vitest";
import { asciiLowerCase, asciiUpperCase } from "./ascii.js";

describe("ASCII case folding", () => {
  it("folds A-Z and a-z only, as Envoy's ignore_case does", () => {
    expect(asciiLowerCase("/Admin/ÄB\u212a")).toBe("/admin/Äb\u212a");
    expect(asciiUpperCase("delete ä\u0131")).toBe("DELETE ä\u0131");
  });

  it("returns the input itself when nothing changes (no copy on the hot path)", () => {
    const lower = "/api/v1";
    const upper = "GET";
    expect(asciiLowerCase(lower)).toBe(lower);
    expect(asciiUpperCase(upper)).toBe(upper);
  });
});
