/**
 * The demo's output: one table row per call as it happens (caller → callee, method and path, decision, reason),
 * phase headings and notes; ANSI colours on a terminal, plain text when piped or when NO_COLOR is set. Long reasons
 * and notes wrap at word boundaries to the terminal's width (or $COLUMNS), continuing under the REASON column.
 * Pure: the caller writes the lines.
 */

export interface Row {
  readonly caller: string;
  readonly callee: string;
  readonly method: string;
  readonly path: string;
  readonly allowed: boolean;
  /** Deciding policy (allow) or `policy: reason` (deny), already shortened. */
  readonly reason: string;
  /** Appended dimmed, e.g. "+9 ms after the alert". */
  readonly note?: string;
  /** The decision differs from what the example policies intend. */
  readonly unexpected?: boolean;
}

const WIDTH = { caller: 9, callee: 9, request: 27, decision: 9 };

export interface Style {
  readonly color: boolean;
  /** Lines wrap at this many columns (Infinity: never). */
  readonly width?: number;
}

export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

/** The terminal's width; when piped, $COLUMNS if set; else no wrapping. */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  if (stream.isTTY === true && stream.columns !== undefined && stream.columns > 0) return stream.columns;
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : Number.POSITIVE_INFINITY;
}

/** Text with an optional colour, a unit of wrapping. */
interface Piece {
  readonly text: string;
  readonly code?: string;
  /** Moves to the next line as a whole rather than breaking inside (a short note such as "(21 ms after …)"). */
  readonly keep?: boolean;
}

/**
 * Lays `pieces` out after `lead` (already `leadWidth` columns wide), breaking only at spaces so that no line is wider
 * than the width; continuation lines start with `indent` spaces. A word longer than a whole line stays whole.
 */
function wrapPieces(style: Style, lead: string, leadWidth: number, pieces: readonly Piece[], indent: number): string {
  const width = style.width ?? Number.POSITIVE_INFINITY;
  const words: Array<{ gap: string; word: string; code?: string }> = [];
  for (const piece of pieces) {
    const kept = piece.keep ? /^(\s*)(.*)$/s.exec(piece.text) : null;
    if (kept) words.push({ gap: kept[1]!, word: kept[2]!, code: piece.code });
    else for (const m of piece.text.matchAll(/(\s*)(\S+)/g)) words.push({ gap: m[1]!, word: m[2]!, code: piece.code });
  }
  const lines: string[] = [];
  let line = lead;
  let used = leadWidth;
  let atStart = false;
  for (const { gap, word, code } of words) {
    const fits = used + (atStart ? 0 : gap.length) + word.length <= width;
    if (!fits && !atStart && used > indent) {
      lines.push(line);
      line = " ".repeat(indent);
      used = indent;
      atStart = true;
    }
    const sep = atStart ? "" : gap;
    line += sep + (code ? paint(style, code, word) : word);
    used += sep.length + word.length;
    atStart = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/** Column where the REASON column starts (and wrapped reasons continue). */
const REASON_COLUMN = WIDTH.caller + 3 + WIDTH.callee + 1 + WIDTH.request + 1 + WIDTH.decision + 1;

function paint(style: Style, code: string, text: string): string {
  return style.color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** Trustgate's reasons restate the policy; the table shows the policy once and keeps the part that says why. */
export function shortReason(policy: string, reason: string): string {
  const why = reason
    .replace(/^denied by DENY policy \S+ rule \d+: /, "")
    .replace(/^no ALLOW rule matched; /, "")
    .replace(/^identity rejected: /, "");
  if (why === "") return policy;
  return policy === "" ? why : `${policy}: ${why}`;
}

export function heading(style: Style, text: string): string {
  return `\n${paint(style, "1", `== ${text}`)}`;
}

/** A paragraph of plain text, wrapped to the width. */
export function paragraph(style: Style, text: string): string {
  return wrapPieces(style, "", 0, [{ text }], 0);
}

export function columns(style: Style): string {
  const titles = `${pad("CALLER", WIDTH.caller)}   ${pad("CALLEE", WIDTH.callee)} ${pad("REQUEST", WIDTH.request)} ${pad("DECISION", WIDTH.decision)} REASON`;
  return paint(style, "2", titles);
}

export function formatRow(style: Style, row: Row): string {
  const decision = row.allowed
    ? paint(style, "32;1", pad("ALLOW", WIDTH.decision))
    : paint(style, "31;1", pad("DENY", WIDTH.decision));
  const request = pad(`${row.method} ${row.path}`, WIDTH.request);
  const pieces: Piece[] = [{ text: row.reason }];
  if (row.note) pieces.push({ text: `  (${row.note})`, code: "2", keep: true });
  if (row.unexpected) pieces.push({ text: "  ⚠ not what the policies intend", code: "33;1", keep: true });
  const lead = `${pad(row.caller, WIDTH.caller)} → ${pad(row.callee, WIDTH.callee)} ${request} ${decision} `;
  return wrapPieces(style, lead, REASON_COLUMN, pieces, REASON_COLUMN);
}

/** An indented note (cyan); wrapped lines keep the indent. */
export function note(style: Style, text: string): string {
  return wrapPieces(style, "   ", 3, [{ text, code: "36" }], 3);
}

/** Text after a label (`summary: …`): wrapped lines continue under the text. */
export function labelled(style: Style, label: string, text: string): string {
  return wrapPieces(style, label, label.length, [{ text }], label.length);
}
