/**
 * Alert timestamps: RFC 3339 with up to nine fractional digits. Falco writes `2026-11-28T10:00:00.123456789Z`;
 * Falcosidekick re-encodes with Go's RFC3339Nano, which drops trailing zeros (and the whole fraction when it is
 * zero) and may carry a numeric offset. Every calendar field is range-checked: `2026-02-30` is refused, not rolled.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch, or null when `value` is not a valid RFC 3339 timestamp. */
export function parseFalcoTime(value: string): number | null {
  const m = RFC3339.exec(value);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  // RFC 3339 allows a leap second (:60); it is read as the last instant of that minute.
  const second = Math.min(Number(m[6]), 59.999);
  // Falco timestamps are nanoseconds since the epoch: nothing before 1970 is a real alert time.
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || Number(m[6]) > 60) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
  const ms = Date.UTC(year, month - 1, day, hour, minute, 0) + (second + fraction) * 1000 - offsetMinutes * 60_000;
  return Math.floor(ms);
}
