/**
 * Other readings of a request path, for DENY rules only. Istio compares the path exactly as the proxy forwards it, so
 * a DENY on `/admin` lets `//admin`, `/admin;jsessionid=1` or `/ADMIN` through — and many servers serve `/admin` for
 * each of them (merged slashes, Tomcat/Jetty/Spring `;parameters`, case-insensitive routers). A positive `paths`
 * check in a DENY rule also matches when one of these readings does; nowhere else are they used, so trustgate never
 * allows more than Istio would.
 *
 * The readings, all ASCII lower-cased (DENY path matching ignores case): the path itself; the path with
 * percent-encoded unreserved characters decoded and runs of `/` merged; and that, with every segment cut at its
 * first `;` or `%3B`. Each of them that ends in `/` is also read without it: Express (by default), Rails and Spring
 * MVC before 6 serve `/admin/` from the `/admin` handler. Not the other way round: a DENY on `/admin/*` does not cover
 * `/admin` in Istio, and trustgate keeps that (lint says so: deny-prefix-without-base). Dot segments never get here:
 * the request path refuses them (extauthz/request-path.ts).
 */
import { asciiLowerCase } from "../util/ascii.js";

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

function decodeUnreserved(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 && i + 2 < path.length) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      const byte = hi * 16 + lo;
      if (hi >= 0 && lo >= 0 && isUnreserved(byte)) {
        out += String.fromCharCode(byte);
        i += 2;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

/** Joins segments, dropping empty ones except a trailing one (`/a//b/` → `/a/b/`). */
function merged(segments: readonly string[]): string {
  let out = "";
  for (let s = 1; s < segments.length; s++) {
    const segment = segments[s]!;
    if (segment === "" && s !== segments.length - 1) continue;
    out += `/${segment}`;
  }
  return out === "" ? "/" : out;
}

function withoutParameters(segments: readonly string[]): string[] {
  return segments.map((segment) => {
    // `;` starts the parameters, and so does `%3b` for servers that decode the path before cutting them.
    const raw = segment.indexOf(";");
    const encoded = segment.indexOf("%3b");
    const cut = raw === -1 ? encoded : encoded === -1 ? raw : Math.min(raw, encoded);
    return cut === -1 ? segment : segment.slice(0, cut);
  });
}

/** Adds each reading without its trailing `/` (not `/` itself). */
function withTrailingSlashReadings(readings: string[]): string[] {
  for (let i = 0, n = readings.length; i < n; i++) {
    const reading = readings[i]!;
    if (reading.length <= 1 || reading.charCodeAt(reading.length - 1) !== 0x2f) continue;
    const dropped = reading.slice(0, -1);
    if (!readings.includes(dropped)) readings.push(dropped);
  }
  return readings;
}

/** The lower-cased readings of `path` (the first is the path itself), without duplicates. */
export function pathReadings(path: string): readonly string[] {
  const lower = asciiLowerCase(path);
  if (!lower.startsWith("/")) return [lower];
  let special = false;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (c === 0x25 || c === 0x3b || (c === 0x2f && i > 0 && lower.charCodeAt(i - 1) === 0x2f)) {
      special = true;
      break;
    }
  }
  if (!special) return withTrailingSlashReadings([lower]);
  const segments = asciiLowerCase(decodeUnreserved(lower)).split("/");
  const readings = [lower];
  for (const reading of [merged(segments), merged(withoutParameters(segments))]) {
    if (!readings.includes(reading)) readings.push(reading);
  }
  return withTrailingSlashReadings(readings);
}
