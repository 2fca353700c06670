import { describe, expect, it } from "vitest";
import { desiredStatus, type StatusVerdict, statusDiffers } from "./policy-status.js";

const verdict = (status: "True" | "False", generation = 1): StatusVerdict => ({
  generation,
  accepted:
    status === "True"
      ? { status, reason: "Accepted", message: "compiled and in force" }
      : { status, reason: "Invalid", message: "TrustgatePolicy a/b: field spec.action: bad" },
  warnings: { status: "False", reason: "NoWarnings", message: "no lint warnings" },
});

const t0 = new Date("2026-03-01T10:00:00.123Z");
const t1 = new Date("2026-03-01T10:05:00.000Z");

describe("TrustgatePolicy status", () => {
  it("has observedGeneration and Accepted + Warnings conditions shaped like metav1.Condition", () => {
    const s = desiredStatus(verdict("True"), undefined, t0);
    expect(s).toEqual({
      observedGeneration: 1,
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "compiled and in force",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
        },
        {
          type: "Warnings",
          status: "False",
          reason: "NoWarnings",
          message: "no lint warnings",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
        },
      ],
    });
  });

  it("keeps lastTransitionTime while a condition's status stays, moves it when the status flips", () => {
    const first = desiredStatus(verdict("True"), undefined, t0);
    const same = desiredStatus(verdict("True", 2), first, t1);
    expect(same.conditions[0]!.lastTransitionTime).toBe("2026-03-01T10:00:00Z");
    expect(same.conditions[0]!.observedGeneration).toBe(2);
    const flipped = desiredStatus(verdict("False", 3), same, t1);
    expect(flipped.conditions[0]!.lastTransitionTime).toBe("2026-03-01T10:05:00Z");
    expect(flipped.conditions[1]!.lastTransitionTime).toBe("2026-03-01T10:00:00Z"); // Warnings did not flip
  });

  it("differs only when something trustgate writes changed", () => {
    const written = desiredStatus(verdict("True"), undefined, t0);
    // What the API server hands back (a round trip through JSON) is equal; a later pass computes the same.
    const read = JSON.parse(JSON.stringify(written));
    expect(statusDiffers(read, desiredStatus(verdict("True"), read, t1))).toBe(false);
    expect(statusDiffers(read, desiredStatus(verdict("True", 2), read, t1))).toBe(true);
    expect(statusDiffers(read, desiredStatus(verdict("False"), read, t1))).toBe(true);
    expect(statusDiffers(undefined, written)).toBe(true);
    expect(statusDiffers({ observedGeneration: 1, conditions: [read.conditions[0]] }, written)).toBe(true);
    expect(statusDiffers({ ...read, conditions: "x" }, written)).toBe(true);
  });

  it("clips very long messages", () => {
    const long: StatusVerdict = {
      ...verdict("False"),
      accepted: { status: "False", reason: "Invalid", message: "x".repeat(50_000) },
    };
    const message = desiredStatus(long, undefined, t0).conditions[0]!.message;
    expect(message.length).toBeLessThanOrEqual(8192);
    expect(message).toContain("(50000 characters)");
  });
});
