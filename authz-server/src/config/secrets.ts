/**
 * Secrets (admin token, Falco token) given inline or as a file (a mounted Kubernetes/compose secret). Reading a file
 * is start-up I/O: a file that cannot be read stops the start with the reason.
 *
 * Both forms are trimmed the same way: an env var templated from a Secret file ends in the file's newline as the file
 * does. A value of only whitespace reads as "" — not configured (the endpoints it guards refuse everything), never a
 * token that whitespace would match.
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
  return inline.trim();
}
