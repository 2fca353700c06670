/**
 * Bearer-token check for operator endpoints (revoking identities, clearing risk). Without a configured token those
 * endpoints are disabled rather than open.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; error: string };

export function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match ? match[1]!.trim() : "";
}

/** Constant-time comparison; both sides are hashed first so not even the secret's length leaks through timing. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && presented === expected;
}

export function checkAdminToken(req: IncomingMessage, expected: string): AuthResult {
  if (expected.trim() === "") {
    return {
      ok: false,
      status: 403,
      error: "operator endpoints are disabled: set http.adminToken (TRUSTGATE_ADMIN_TOKEN)",
    };
  }
  const presented = bearerToken(req);
  if (presented === "" || !tokensEqual(presented, expected)) {
    return { ok: false, status: 401, error: "a valid bearer token is required" };
  }
  return { ok: true };
}
