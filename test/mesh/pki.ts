/**
 * The mesh's PKI: the committed fixture root (test/fixtures/pki) acts as the SPIRE server's CA. order keeps the
 * long-lived fixture certificate that policies/ecommerce/payment.yaml pins by fingerprint; every other workload gets
 * a fresh short-lived X.509-SVID at start-up and on rotation, as a SPIRE agent would hand out.
 */
import "reflect-metadata";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { fingerprintOf, type IssuedSvid, TestCa } from "../support/svid-ca.js";
import { PKI_DIR } from "./repo.js";
import { TRUST_DOMAIN, WORKLOADS, type WorkloadName } from "./workloads.js";

export type { IssuedSvid };

/** Short-lived, like SPIRE's default SVID TTL scaled down: far longer than any test or the demo. */
export const SVID_TTL_MS = 10 * 60_000;

/** Workloads whose certificate is pinned by a policy: they keep the fixture certificate and do not rotate. */
export const PINNED: ReadonlySet<WorkloadName> = new Set(["order"]);

export function svidFromPem(spiffeId: string, certPem: string, keyPem: string): IssuedSvid {
  const cert = new x509.X509Certificate(certPem);
  return {
    spiffeId,
    certPem,
    keyPem,
    urlEncodedPem: encodeURIComponent(`${certPem}\n`),
    fingerprint: fingerprintOf(certPem),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

export class MeshPki {
  private constructor(
    readonly ca: TestCa,
    /** The trust bundle of cluster.local: the root certificate every sidecar validates peers against. */
    readonly bundlePem: string,
  ) {}

  static async load(): Promise<MeshPki> {
    const certPem = readFileSync(join(PKI_DIR, "root-ca.pem"), "utf8");
    const keyPem = readFileSync(join(PKI_DIR, "root-ca-key.pem"), "utf8");
    return new MeshPki(await TestCa.fromPem(TRUST_DOMAIN, certPem, keyPem), certPem);
  }

  /** The fixture certificate of a pinned workload. */
  pinnedSvid(name: WorkloadName): IssuedSvid {
    return svidFromPem(
      WORKLOADS[name].spiffeId,
      readFileSync(join(PKI_DIR, `${name}.pem`), "utf8"),
      readFileSync(join(PKI_DIR, `${name}-key.pem`), "utf8"),
    );
  }

  /** A fresh SVID for a workload (new key and certificate), subject shaped like the fixtures'. */
  issueFor(name: WorkloadName, ttlMs = SVID_TTL_MS): Promise<IssuedSvid> {
    const w = WORKLOADS[name];
    return this.ca.issue(w.spiffeId, {
      subject: `C=US, O=trustgate demo, CN=${w.name}.${w.namespace}.svc.${TRUST_DOMAIN}`,
      ttlMs,
    });
  }

  /** The SVID a workload starts with: the pinned fixture, or a fresh one. */
  initialSvid(name: WorkloadName): Promise<IssuedSvid> {
    return PINNED.has(name) ? Promise.resolve(this.pinnedSvid(name)) : this.issueFor(name);
  }

  /** Any SPIFFE ID signed by the mesh root (callers that are not mesh workloads, e.g. the ingress gateway). */
  issue(spiffeId: string, subject: string, ttlMs = SVID_TTL_MS): Promise<IssuedSvid> {
    return this.ca.issue(spiffeId, { subject, ttlMs });
  }
}
