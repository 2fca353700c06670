import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built module, run in a fresh node: the flag is process-wide, so it is measured in children.
const BUILT = new URL("../../dist/app/heap-growth.js", import.meta.url);

/**
 * Peak heap of a child that keeps about 20 MB live and churns objects that live long enough to be promoted: the old
 * generation fills with garbage until the next full collection, which the growing factor decides.
 */
function peakHeapMb(nodeArgs: string[]): number {
  const script = `
    const { limitHeapGrowth } = await import(${JSON.stringify(BUILT.href)});
    limitHeapGrowth();
    const live = [];
    for (let i = 0; i < 300_000; i++) live.push({ a: i, b: "x" + i });
    let peak = 0;
    const ring = new Array(100_000);
    for (let i = 0; i < 6_000_000; i++) {
      ring[i % ring.length] = { i, s: [i, i + 1, i + 2] };
      if (i % 20_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    console.log(Math.round(peak / 1e6), live.length);`;
  const out = execFileSync(process.execPath, [...nodeArgs, "--input-type=module", "-e", script], { encoding: "utf8" });
  return Number(out.trim().split(" ")[0]);
}

describe("limitHeapGrowth", () => {
  it.skipIf(!existsSync(fileURLToPath(BUILT)))(
    "holds far less garbage at the peak than a 4× growing factor, and leaves an explicit flag alone",
    () => {
      const limited = peakHeapMb(["--max-semi-space-size=4"]);
      // An explicit --heap-growing-percent wins: with 300 (a factor of 4) the same churn peaks much higher.
      const explicit = peakHeapMb(["--max-semi-space-size=4", "--heap-growing-percent=300"]);
      expect(limited).toBeGreaterThan(20);
      expect(limited).toBeLessThan(explicit * 0.75);
    },
    30_000,
  );
});
