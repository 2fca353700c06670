/** Headers whose values never appear in logs or explanations: credentials and session state. */
export const SENSITIVE_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "x-auth-token",
  "x-csrf-token",
  "x-xsrf-token",
  "x-amz-security-token",
  "x-goog-iap-jwt-assertion",
]);

export const REDACTED = "[redacted]";

export function redactHeaderValue(name: string, value: string): string {
  return SENSITIVE_HEADERS.has(name) ? REDACTED : value;
}

/** The built-in list plus a deployment's own names (lower-cased), e.g. `x-tenant-secret`. */
export function sensitiveHeaders(extra: readonly string[]): ReadonlySet<string> {
  if (extra.length === 0) return SENSITIVE_HEADERS;
  return new Set([...SENSITIVE_HEADERS, ...extra.map((name) => name.toLowerCase())]);
}

/**
 * Headers safe to log: the same object when it holds nothing sensitive (the common case, no copy), otherwise a copy
 * with credential values replaced.
 */
export function redactHeaders(
  headers: Readonly<Record<string, string>>,
  sensitive: ReadonlySet<string> = SENSITIVE_HEADERS,
): Readonly<Record<string, string>> {
  let found = false;
  for (const name in headers) {
    if (sensitive.has(name)) {
      found = true;
      break;
    }
  }
  if (!found) return headers;
  const copy: Record<string, string> = Object.create(null);
  for (const name in headers) copy[name] = sensitive.has(name) ? REDACTED : headers[name]!;
  return copy;
}
