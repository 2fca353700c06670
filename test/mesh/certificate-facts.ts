/**
 * What Envoy reads from a certificate for its connection properties and CheckRequest principals: URI and DNS SANs
 * in certificate order, the subject as OpenSSL prints it with XN_FLAG_RFC2253 (most specific RDN first, `,` between
 * RDNs, `+` inside one, RFC 2253 escaping), and the SHA-256 digest of the DER as lower-case hex. Pure.
 */
import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";

export interface CertificateFacts {
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** RFC 2253 string, e.g. `CN=order.services.svc.cluster.local,O=trustgate demo,C=US` ("" for an empty subject). */
  readonly subject: string;
  /** Lower-case hex without colons (Envoy's `sha256_peer_certificate_digest`). */
  readonly sha256: string;
  /** PEM of the certificate (for `source.certificate`). */
  readonly pem: string;
}

/** RFC 2253 §2.4 escaping, as OpenSSL's ASN1_STRFLGS_ESC_2253 (+ ESC_CTRL) does it. */
export function escapeRfc2253Value(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const code = ch.charCodeAt(0);
    if (',+"\\<>;'.includes(ch)) out += `\\${ch}`;
    else if ((ch === "#" || ch === " ") && i === 0) out += `\\${ch}`;
    else if (ch === " " && i === value.length - 1) out += "\\ ";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

/** A distinguished name (as @peculiar/x509 decodes it, in encoding order) rendered the way Envoy reports it. */
export function rfc2253(name: x509.JsonName): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((v) => `${type}=${escapeRfc2253Value(v)}`))
        .join("+"),
    )
    .join(",");
}

export function certificateFacts(der: Uint8Array): CertificateFacts {
  const cert = new x509.X509Certificate(der);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    uriSans: names.filter((n) => n.type === "url").map((n) => n.value),
    dnsSans: names.filter((n) => n.type === "dns").map((n) => n.value),
    subject: rfc2253(cert.subjectName.toJSON()),
    sha256: createHash("sha256").update(der).digest("hex"),
    pem: cert.toString("pem"),
  };
}

/** Envoy's principal rule (check_request_utils.cc): first URI SAN, else first DNS SAN, else the subject. */
export function envoyPrincipal(facts: CertificateFacts): string {
  return facts.uriSans[0] ?? facts.dnsSans[0] ?? facts.subject;
}

/** Envoy's `urlEncodedPemEncodedPeerCertificate()`: the PEM, URL-encoded. */
export function urlEncodedPem(facts: CertificateFacts): string {
  return encodeURIComponent(facts.pem.endsWith("\n") ? facts.pem : `${facts.pem}\n`);
}
