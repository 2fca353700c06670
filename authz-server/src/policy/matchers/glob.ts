/**
 * Matching a text against a pattern whose only wildcard is `*` (any run of characters, `/` included), given as the
 * literal pieces between the stars. Greedy left-to-right search: linear in practice, never the exponential
 * backtracking a regular expression with several `.*` can fall into.
 */

/** `pieces` = the pattern split on `*`: ["a", "b"] is `a*b`, ["", "x", ""] is `*x*`. */
export function globMatches(pieces: readonly string[], text: string): boolean {
  const first = pieces[0]!;
  if (pieces.length === 1) return text === first;
  const last = pieces[pieces.length - 1]!;
  if (text.length < first.length + last.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    const found = text.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
