/**
 * "Did you mean …?" for a misspelt key or flag: the closest known name within a small edit distance, so a typo is
 * answered with the fix rather than only with the refusal.
 */

/** Levenshtein distance with adjacent transpositions counted as one edit (`adress` → `address`, `exepct`). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `typed` (case-insensitive), or null when none is close enough to be a typo of it. */
export function closestName(typed: string, known: Iterable<string>): string | null {
  const lower = typed.toLowerCase();
  // Short names tolerate one edit, longer ones a few: `tcp` must not suggest `ip`, `trustFilterHeader` should find
  // `trustFilterHeaders`.
  const limit = Math.max(1, Math.min(3, Math.floor(lower.length / 3)));
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    // A truncated name (`halfLife` for `halfLifeSeconds`) counts as a close match too.
    const prefix = lower.length >= 4 && name.toLowerCase().startsWith(lower);
    const distance = prefix ? 1 : editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : null;
}

/** ` (did you mean "x"?)`, or "" when nothing is close. */
export function didYouMean(typed: string, known: Iterable<string>): string {
  const name = closestName(typed, known);
  return name === null ? "" : ` (did you mean "${name}"?)`;
}
