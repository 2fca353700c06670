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

/**
 * Headers safe to log: the same object when it holds nothing sensitive (the common case, no copy), otherwise a copy
 * with credential values replaced.
 */
export function redactHeaders(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  let sensitive = false;
  for (const name in headers) {
    if (SENSITIVE_HEADERS.has(name)) {
      sensitive = true;
      break;
    }
  }
  if (!sensitive) return headers;
  const copy: Record<string, string> = Object.create(null);
  for (const name in headers) copy[name] = SENSITIVE_HEADERS.has(name) ? REDACTED : headers[name]!;
  return copy;
}
