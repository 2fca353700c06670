// proto3 JSON Duration strings ("0.25s", "-1.5s", "300s").
const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000;

export interface Duration {
  seconds: number;
  nanos: number;
}

/** Parses a proto3 JSON Duration ("0.25s", "-1.5s"); null when malformed. */
export function parseDuration(text: string): Duration | null {
  const m = DURATION_RE.exec(text);
  if (!m) return null;
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  const nanos = m[3] ? Number(m[3].padEnd(9, "0")) : 0;
  if (seconds > MAX_DURATION_SECONDS) return null;
  return { seconds: sign * seconds, nanos: sign * nanos };
}
