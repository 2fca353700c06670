/**
 * X.509-SVID leaf validation for the certificate Envoy forwards in `source.certificate` (URL-encoded PEM, sent when
 * the ext_authz filter has `include_peer_certificate: true`). Envoy has already verified the chain during the TLS
 * handshake; trustgate re-checks the leaf rules of the X.509-SVID standard and extracts the facts policies read.
 */
import { createRequire } from "node:module";
import type { BasicConstraintsExtension, KeyUsagesExtension, X509Certificate } from "@peculiar/x509";
import { formatRfc2253, type NameJson } from "./distinguished-name.js";
import { fingerprintOf } from "./fingerprint.js";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.js";

export interface CertificateFacts {
  readonly spiffeId: SpiffeId;
  /** `sha256:<lowercase hex>` of the DER encoding. */
  readonly fingerprint: string;
  /** RFC 2253 subject, "" when the certificate has none. */
  readonly subject: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export type CertificateResult = { ok: true; facts: CertificateFacts } | { ok: false; error: string };

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
/** A leaf SVID is well under this; anything bigger is refused before parsing. */
export const MAX_CERTIFICATE_PEM_LENGTH = 16_384;

const require = createRequire(import.meta.url);
let library: typeof import("@peculiar/x509") | null = null;

/**
 * The X.509 library (with its ASN.1 stack, about 600 KB of code) is loaded by the first certificate to parse: most
 * deployments never send one (Envoy sends it only with `include_peer_certificate`), and every serving process would
 * carry it otherwise. Loading is synchronous because the decision path is.
 */
function x509(): typeof import("@peculiar/x509") {
  if (library === null) {
    require("reflect-metadata");
    library = require("@peculiar/x509") as typeof import("@peculiar/x509");
  }
  return library;
}

function fail(error: string): CertificateResult {
  return { ok: false, error };
}

/** Parses and checks a URL-encoded PEM leaf certificate. Pure: the validity window is checked by `validityError`. */
export function parseSvidCertificate(urlEncodedPem: string): CertificateResult {
  if (urlEncodedPem.length > MAX_CERTIFICATE_PEM_LENGTH * 3) return fail("certificate is too large");
  let pem: string;
  try {
    pem = decodeURIComponent(urlEncodedPem);
  } catch {
    return fail("certificate is not valid URL-encoded PEM");
  }
  const first = pem.indexOf(PEM_BEGIN);
  if (first === -1) return fail("certificate is not PEM encoded");
  if (pem.indexOf(PEM_BEGIN, first + PEM_BEGIN.length) !== -1) {
    return fail("expected exactly one certificate, got a chain");
  }
  const { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, SubjectAlternativeNameExtension } = x509();
  let cert: X509Certificate;
  try {
    cert = new (x509().X509Certificate)(pem.slice(first));
  } catch (err) {
    return fail(`certificate cannot be parsed: ${(err as Error).message}`);
  }

  let uris: string[];
  let basic: BasicConstraintsExtension | null;
  let usage: KeyUsagesExtension | null;
  try {
    const san = cert.getExtension(SubjectAlternativeNameExtension);
    uris = san ? san.names.items.filter((n) => n.type === "url").map((n) => n.value) : [];
    basic = cert.getExtension(BasicConstraintsExtension);
    usage = cert.getExtension(KeyUsagesExtension);
  } catch (err) {
    return fail(`certificate extensions cannot be parsed: ${(err as Error).message}`);
  }

  if (uris.length === 0) return fail("certificate contains no URI SAN");
  if (uris.length > 1) return fail(`certificate contains ${uris.length} URI SANs; an X.509-SVID has exactly one`);
  const parsed = parseSpiffeId(uris[0]!);
  if (!parsed.ok) return fail(`certificate URI SAN is not a valid SPIFFE ID: ${parsed.error}`);
  if (parsed.id.path === "") return fail("leaf SVID SPIFFE ID must have a non-root path");
  if (basic?.ca) return fail("leaf certificate has the CA flag set");
  if (!usage) return fail("leaf certificate has no key usage extension");
  if (usage.usages & KeyUsageFlags.keyCertSign) return fail("leaf certificate has keyCertSign key usage");
  if (usage.usages & KeyUsageFlags.cRLSign) return fail("leaf certificate has cRLSign key usage");
  if (!(usage.usages & KeyUsageFlags.digitalSignature)) {
    return fail("leaf certificate lacks the digitalSignature key usage");
  }

  const fingerprint = fingerprintOf(new Uint8Array(cert.rawData));
  return {
    ok: true,
    facts: {
      spiffeId: parsed.id,
      fingerprint,
      subject: formatRfc2253(cert.subjectName.toJSON() as NameJson),
      notBeforeMs: cert.notBefore.getTime(),
      notAfterMs: cert.notAfter.getTime(),
    },
  };
}

/** Returns why the certificate is not valid at `nowMs`, or null when it is. */
export function validityError(facts: CertificateFacts, nowMs: number): string | null {
  if (nowMs < facts.notBeforeMs) return `certificate is not valid before ${new Date(facts.notBeforeMs).toISOString()}`;
  if (nowMs > facts.notAfterMs) return `certificate expired at ${new Date(facts.notAfterMs).toISOString()}`;
  return null;
}
