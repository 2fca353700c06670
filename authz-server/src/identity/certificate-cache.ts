/**
 * Parsing an X.509 certificate costs about a millisecond; a caller presents the same certificate on every request
 * until it rotates. Results (including failures) are cached by the exact URL-encoded PEM, so the hot path pays one
 * map lookup. The validity window is still checked on every request by the caller.
 */
import { LRUCache } from "lru-cache";
import { type CertificateResult, parseSvidCertificate } from "./svid.js";

export class CertificateCache {
  private readonly cache: LRUCache<string, CertificateResult>;

  constructor(maxEntries = 10_000) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  get(urlEncodedPem: string): CertificateResult {
    let result = this.cache.get(urlEncodedPem);
    if (result === undefined) {
      result = parseSvidCertificate(urlEncodedPem);
      this.cache.set(urlEncodedPem, result);
    }
    return result;
  }

  get size(): number {
    return this.cache.size;
  }
}
