/**
 * Certificate fingerprints as trustgate writes them everywhere (policies, revocations, the wasm filter's header,
 * logs): `sha256:` and the lower-case hex SHA-256 of the certificate's DER bytes.
 */
import { createHash } from "node:crypto";

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

export const FINGERPRINT_FORMAT = "sha256:<64 lowercase hex>";

export function isFingerprint(value: string): boolean {
  return FINGERPRINT.test(value);
}

export function fingerprintOf(der: Uint8Array): string {
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}
