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
