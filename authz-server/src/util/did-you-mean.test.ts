import { describe, expect, it } from "vitest";
import { closestName, didYouMean, editDistance } from "./did-you-mean.js";

describe("did you mean", () => {
  it("counts insertions, deletions, substitutions and transpositions as one edit each", () => {
    expect(editDistance("adress", "address")).toBe(1);
    expect(editDistance("expected", "expect")).toBe(2);
    expect(editDistance("exepct", "expect")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests the closest known name within the typo limit, case-insensitively", () => {
    expect(closestName("trustFilterHeader", ["trustDomains", "trustFilterHeaders"])).toBe("trustFilterHeaders");
    expect(closestName("expected", ["name", "request", "expect"])).toBe("expect");
    expect(closestName("Adress", ["address", "maxMessageBytes"])).toBe("address");
    expect(closestName("halfLife", ["halfLifeSeconds", "staleAfterSeconds"])).toBe("halfLifeSeconds");
    expect(closestName("weight", ["halfLifeSeconds", "staleAfterSeconds"])).toBeNull();
    expect(closestName("tcp", ["ip", "port"])).toBeNull();
  });

  it("words the hint, or nothing", () => {
    expect(didYouMean("dri", ["dir", "watch"])).toBe(' (did you mean "dir"?)');
    expect(didYouMean("completely-different", ["dir"])).toBe("");
  });
});
