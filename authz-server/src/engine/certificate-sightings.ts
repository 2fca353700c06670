/**
 * Whether this deployment's Checks carry the caller's certificate (Envoy `include_peer_certificate`, or the wasm
 * filter's fingerprint header with `identity.trustFilterHeaders`). Without it, trustgate cannot tell one certificate
 * from another, and a revocation by fingerprint would silently do nothing here: the revocation endpoint asks this.
 */
export class CertificateSightings {
  /** Checks whose caller had an identity. */
  identities = 0;
  /** Of those, Checks that also carried the caller's certificate fingerprint. */
  certificates = 0;

  /** On the decision path: two comparisons and an increment. */
  see(principal: string, fingerprint: string): void {
    if (principal === "") return;
    this.identities += 1;
    if (fingerprint !== "") this.certificates += 1;
  }
}
