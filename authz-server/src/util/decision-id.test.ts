import { describe, expect, it } from "vitest";
import { randomDecisionId } from "./decision-id.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("randomDecisionId", () => {
  it("makes version 4 UUIDs in lower-case hex, all different across several refills of the pool", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = randomDecisionId();
      expect(id).toMatch(UUID_V4);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });

  it("uses every hex digit in every random position", () => {
    // A fixed or biased nibble (e.g. a wrong offset into the pool) would leave a position with few digits.
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) {
      const id = randomDecisionId();
      for (let c = 0; c < 36; c++) digits[c]!.add(id[c]!);
    }
    for (let c = 0; c < 36; c++) {
      const expected = [8, 13, 18, 23].includes(c) ? 1 : c === 14 ? 1 : c === 19 ? 4 : 16;
      expect(digits[c]!.size, `position ${c}`).toBe(expected);
    }
  });
});
