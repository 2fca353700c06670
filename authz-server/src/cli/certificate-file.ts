/**
 * `check --certificate-file`: read a PEM certificate and make sure it is one before sending it, so a wrong file fails
 * here with the flag named (exit 2) instead of coming back as a deny for a malformed certificate.
 */
import "reflect-metadata";
import { readFile } from "node:fs/promises";
import { X509Certificate } from "@peculiar/x509";

export type CertificateFileResult = { ok: true; pem: string } | { ok: false; error: string };

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

export async function readCertificateFile(file: string): Promise<CertificateFileResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, error: `--certificate-file ${file}: cannot read it: ${(err as Error).message}` };
  }
  const block = PEM_BLOCK.exec(text);
  if (block === null) {
    return {
      ok: false,
      error: `--certificate-file ${file}: not a PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`,
    };
  }
  try {
    new X509Certificate(block[0]);
  } catch (err) {
    return {
      ok: false,
      error: `--certificate-file ${file}: the certificate cannot be parsed: ${(err as Error).message}`,
    };
  }
  return { ok: true, pem: text };
}
