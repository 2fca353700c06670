import { describe, expect, it } from "vitest";
import { IngestLimits, isUrgent } from "./ingest-limits.js";

const limits = () => new IngestLimits({ ratePerSecond: 1, burst: 3, urgentRatePerSecond: 1, urgentBurst: 2 });

describe("IngestLimits", () => {
  it("treats Critical, Alert and Emergency as urgent, everything else as routine", () => {
    expect(["emergency", "alert", "critical"].every((p) => isUrgent(p as never))).toBe(true);
    expect(["error", "warning", "notice", "informational", "debug"].some((p) => isUrgent(p as never))).toBe(false);
  });

  it("keeps the urgent budget whole however much routine traffic a source sends", async () => {
    const l = limits();
    expect(await l.take("routine", "a", 3)).toEqual({ ok: true });
    expect((await l.take("routine", "a", 1)).ok).toBe(false);
    expect(await l.take("urgent", "a", 2)).toEqual({ ok: true });
    const refused = await l.take("urgent", "a", 1);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it("gives each source its own budgets", async () => {
    const l = limits();
    expect((await l.take("routine", "a", 3)).ok).toBe(true);
    expect((await l.take("routine", "a", 1)).ok).toBe(false);
    expect((await l.take("routine", "b", 3)).ok).toBe(true);
  });

  it("a refused batch takes nothing: a smaller one still fits", async () => {
    const l = limits();
    expect((await l.take("routine", "a", 2)).ok).toBe(true);
    expect((await l.take("routine", "a", 2)).ok).toBe(false);
    expect((await l.take("routine", "a", 1)).ok).toBe(true);
    expect((await l.take("routine", "a", 1)).ok).toBe(false);
    expect(await l.take("routine", "a", 0)).toEqual({ ok: true });
  });
});
