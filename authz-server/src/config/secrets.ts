/**
 * Secrets (admin token, Falco token) given inline or as a file (a mounted Kubernetes/compose secret). Reading a file
 * is start-up I/O: a file that cannot be read stops the start with the reason.
 */
import { readFile } from "node:fs/promises";

/** The file wins when both are set. */
export async function readSecret(inline: string, file: string, name: string): Promise<string> {
  if (file) {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (err) {
      throw new Error(`cannot read ${name} file ${file}: ${(err as Error).message}`);
    }
  }
  return inline;
}
