import { describe, expect, it } from "vitest";
import { redactHeaders } from "./sensitive-headers.js";

describe("redactHeaders", () => {
  it("redacts secrets and keeps every other header, even one named __proto__", () => {
    const headers = JSON.parse('{"authorization": "Bearer x", "__proto__": "p", "x-id": "1"}');
    const redacted = redactHeaders(headers);
    expect(redacted.authorization).not.toBe("Bearer x");
    expect(Object.keys(redacted)).toEqual(["authorization", "__proto__", "x-id"]);
    expect(JSON.parse(JSON.stringify(redacted))).toMatchObject({ "x-id": "1" });
    expect(Object.hasOwn(redacted, "__proto__")).toBe(true);
  });
});
