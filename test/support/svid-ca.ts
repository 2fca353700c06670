/**
 * A test certificate authority that issues X.509-SVIDs the way SPIRE does: an ECDSA P-256 root, short-lived leaves
 * with exactly one URI SAN, CA=false, critical key usage (digitalSignature) and both serverAuth and clientAuth EKUs.
 * Knobs exist only to build the broken certificates tests need (two URI SANs, CA leaf, expired, ...).
 */
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const HOUR = 3_600_000;

export interface IssuedSvid {
  readonly spiffeId: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Envoy's `source.certificate` form: the URL-encoded PEM. */
  readonly urlEncodedPem: string;
  /** `sha256:<hex>` of the DER, as trustgate and the wasm filter report it. */
  readonly fingerprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface IssueOptions {
  /** Subject DN in the library's "CN=x, O=y" form; omitted = no subject (then the SAN is critical, per spec). */
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Additional URI SANs (an SVID must have exactly one; used to build invalid ones). */
  extraUris?: string[];
  dnsNames?: string[];
  /** Issue a CA certificate instead of a leaf (invalid as an SVID leaf). */
  ca?: boolean;
  keyUsage?: number;
  /** Sign with this CA instead (to build chains from another trust domain). */
  signer?: TestCa;
}

let serial = 1;
function nextSerial(): string {
  serial += 1;
  return serial.toString(16).padStart(4, "0");
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function issued(
  spiffeId: string,
  cert: x509.X509Certificate,
  keys: CryptoKeyPair,
  notBefore: Date,
  notAfter: Date,
): Promise<IssuedSvid> {
  const certPem = cert.toString("pem");
  return {
    spiffeId,
    certPem,
    keyPem: await pkcs8Pem(keys.privateKey),
    urlEncodedPem: encodeURIComponent(`${certPem}\n`),
    fingerprint: fingerprintOf(certPem),
    notBefore,
    notAfter,
  };
}

export function fingerprintOf(certPem: string): string {
  const der = new x509.X509Certificate(certPem).rawData;
  return `sha256:${createHash("sha256").update(Buffer.from(der)).digest("hex")}`;
}

export class TestCa {
  private constructor(
    readonly trustDomain: string,
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly keys: CryptoKeyPair,
  ) {}

  static async create(trustDomain: string, options: { notBefore?: Date; notAfter?: Date } = {}): Promise<TestCa> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: `C=US, O=SPIFFE test CA, CN=${trustDomain}`,
      notBefore: options.notBefore ?? new Date(Date.now() - HOUR),
      notAfter: options.notAfter ?? new Date(Date.now() + 24 * HOUR),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(trustDomain, cert.toString("pem"), cert, keys);
  }

  /** The CA's private key as PKCS#8 PEM (to commit a fixture CA). */
  privateKeyPem(): Promise<string> {
    return pkcs8Pem(this.keys.privateKey);
  }

  /** Recreates a CA from a committed certificate and PKCS#8 key (the fixture PKI under test/fixtures/pki). */
  static async fromPem(trustDomain: string, certPem: string, keyPem: string): Promise<TestCa> {
    const cert = new x509.X509Certificate(certPem);
    const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    const privateKey = await webcrypto.subtle.importKey("pkcs8", der, ALGORITHM, true, ["sign"]);
    const publicKey = await cert.publicKey.export(ALGORITHM, ["verify"], webcrypto as never);
    return new TestCa(trustDomain, certPem, cert, { privateKey, publicKey } as CryptoKeyPair);
  }

  /** Issues a leaf X.509-SVID for `spiffeId`, valid from one minute ago for `ttlMs` (default one hour). */
  async issue(spiffeId: string, options: IssueOptions & { ttlMs?: number } = {}): Promise<IssuedSvid> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
    const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 60_000 + (options.ttlMs ?? HOUR));
    // An empty spiffeId issues a certificate without URI SAN (invalid as an SVID).
    const sans: x509.JsonGeneralName[] = spiffeId === "" ? [] : [{ type: "url", value: spiffeId }];
    for (const uri of options.extraUris ?? []) sans.push({ type: "url", value: uri });
    for (const dns of options.dnsNames ?? []) sans.push({ type: "dns", value: dns });
    const ca = options.ca ?? false;
    const usage =
      options.keyUsage ??
      (ca
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature
        : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement);
    const signer = options.signer ?? this;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: options.subject ?? "",
      issuer: signer.cert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: signer.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(ca, undefined, true),
        new x509.KeyUsagesExtension(usage, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        // No subject → the SAN extension must be critical (RFC 5280 4.1.2.6).
        new x509.SubjectAlternativeNameExtension(sans, !options.subject),
        await x509.AuthorityKeyIdentifierExtension.create(signer.keys.publicKey),
      ],
    });
    return issued(spiffeId, cert, keys, notBefore, notAfter);
  }

  /** A self-signed leaf that looks like an SVID but chains to no trust bundle (a spoofing attempt). */
  static async selfSigned(spiffeId: string, subject = "CN=imposter"): Promise<IssuedSvid> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + HOUR);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: subject,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }], false),
      ],
    });
    return issued(spiffeId, cert, keys, notBefore, notAfter);
  }
}
