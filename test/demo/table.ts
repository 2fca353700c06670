/**
 * The demo's output: one table row per call as it happens (caller → callee, method and path, decision, reason),
 * phase headings and notes; ANSI colours on a terminal, plain text when piped or when NO_COLOR is set. Pure apart
 * from writing to the stream it is given.
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
}

export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

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

export function columns(style: Style): string {
  const titles = `${pad("CALLER", WIDTH.caller)}   ${pad("CALLEE", WIDTH.callee)} ${pad("REQUEST", WIDTH.request)} ${pad("DECISION", WIDTH.decision)} REASON`;
  return paint(style, "2", titles);
}

export function formatRow(style: Style, row: Row): string {
  const decision = row.allowed
    ? paint(style, "32;1", pad("ALLOW", WIDTH.decision))
    : paint(style, "31;1", pad("DENY", WIDTH.decision));
  const request = pad(`${row.method} ${row.path}`, WIDTH.request);
  const note = row.note ? paint(style, "2", `  (${row.note})`) : "";
  const flag = row.unexpected ? paint(style, "33;1", "  ⚠ not what the policies intend") : "";
  return `${pad(row.caller, WIDTH.caller)} → ${pad(row.callee, WIDTH.callee)} ${request} ${decision} ${row.reason}${note}${flag}`;
}

export function note(style: Style, text: string): string {
  return paint(style, "36", `   ${text}`);
}
