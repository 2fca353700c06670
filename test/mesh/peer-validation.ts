/**
 * Peer certificate validation as an Envoy sidecar does it with SPIRE's SDS secrets: the chain must verify against
 * the trust bundle of the trust domain in the peer's URI SAN (Envoy's SPIFFE certificate validator picks the bundle
 * by trust domain; leaves signed directly by a bundle root are modelled, intermediates are not), and the URI SAN
 * must match `match_typed_subject_alt_names` (downstream: trust-domain prefixes; upstream: the exact SPIFFE ID
 * expected for the cluster). Node verifies the chain itself (`ca` = every bundle root); this adds the rest.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { type CertificateFacts, certificateFacts } from "./certificate-facts.js";

export type VerifyStat = "fail_verify_no_cert" | "fail_verify_error" | "fail_verify_san";

export type PeerCheck =
  | { readonly ok: true; readonly peer: CertificateFacts | null }
  | { readonly ok: false; readonly stat: VerifyStat; readonly reason: string };

/** OpenSSL's texts for the verification errors Node reports by code. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
  CERT_SIGNATURE_FAILURE: "certificate signature failure",
  INVALID_CA: "invalid CA certificate",
};

export function verifyErrorText(code: string): string {
  const text = VERIFY_ERRORS[code];
  return text ? `${code} (${text})` : code;
}

export class TrustBundles {
  private readonly roots = new Map<string, X509Certificate[]>();

  /** `bundles`: trust domain → PEM root certificates. */
  constructor(bundles: Readonly<Record<string, readonly string[]>>) {
    for (const [td, pems] of Object.entries(bundles))
      this.roots.set(
        td,
        pems.map((p) => new X509Certificate(p)),
      );
  }

  /** Every root, for Node's chain verification (`ca`). */
  get allPems(): string[] {
    return [...this.roots.values()].flat().map((c) => c.toString());
  }

  /** Whether `leaf` is signed by a root of `trustDomain`'s bundle. */
  issuedBy(trustDomain: string, leaf: X509Certificate): boolean {
    return (this.roots.get(trustDomain) ?? []).some((root) => leaf.checkIssued(root) && leaf.verify(root.publicKey));
  }
}

function trustDomainOf(uri: string | undefined): string | null {
  const m = uri === undefined ? null : /^spiffe:\/\/([^/]+)/.exec(uri);
  return m ? m[1]! : null;
}

/** The SPIFFE validator and SAN matcher on a certificate that Node already chain-verified. */
export function checkSpiffePeer(
  cert: X509Certificate,
  bundles: TrustBundles,
  sanAccepted: (uri: string) => boolean,
): PeerCheck {
  const facts = certificateFacts(cert.raw);
  const uri = facts.uriSans[0];
  const td = trustDomainOf(uri);
  if (td === null) {
    return { ok: false, stat: "fail_verify_error", reason: "certificate has no spiffe:// URI SAN (SPIFFE validator)" };
  }
  if (!bundles.issuedBy(td, cert)) {
    return {
      ok: false,
      stat: "fail_verify_error",
      reason: `certificate for ${uri} is not signed by the trust bundle of ${td} (SPIFFE validator)`,
    };
  }
  if (!facts.uriSans.some(sanAccepted)) {
    return {
      ok: false,
      stat: "fail_verify_san",
      reason: `URI SAN ${uri} does not match the accepted subject alt names`,
    };
  }
  return { ok: true, peer: facts };
}

/** Downstream (inbound) connection: client certificate required or optional, verified if presented. */
export function verifyDownstreamPeer(
  socket: TLSSocket,
  bundles: TrustBundles,
  uriSanPrefixes: readonly string[],
  requireClientCert: boolean,
): PeerCheck {
  const cert = socket.getPeerX509Certificate();
  if (!cert) {
    return requireClientCert
      ? { ok: false, stat: "fail_verify_no_cert", reason: "peer did not present a client certificate (required)" }
      : { ok: true, peer: null };
  }
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? "unknown error");
    return { ok: false, stat: "fail_verify_error", reason: `certificate verify failed: ${verifyErrorText(code)}` };
  }
  return checkSpiffePeer(cert, bundles, (uri) => uriSanPrefixes.some((p) => uri.startsWith(p)));
}
