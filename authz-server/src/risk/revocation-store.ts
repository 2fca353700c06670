/**
 * Operator revocations on disk (`revocations.file`), so a restart does not forget who was revoked: every record,
 * lifts included, in one JSON file replaced atomically after each change (an operator's revocation is answered only
 * once it is written). A file that cannot be read is a start-up error rather than an empty list: starting without
 * the revocations it holds would let revoked identities back in.
 */
import { readFile } from "node:fs/promises";
import { parseRevocationRecord, type RevocationRecord } from "../identity/revocation-record.js";
import type { Logger } from "../observability/logger.js";
import { AtomicFile } from "./atomic-file.js";

const FORMAT = "trustgate-revocations/1";

export type RevocationFileResult = { ok: true; records: RevocationRecord[] } | { ok: false; error: string };

/** Parses the file's text; every record is checked. */
export function parseRevocationFile(text: string): RevocationFileResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const v = value as { format?: unknown; records?: unknown } | null;
  if (typeof v !== "object" || v === null || v.format !== FORMAT) {
    return { ok: false, error: `not a revocation file (expected "format": "${FORMAT}")` };
  }
  if (!Array.isArray(v.records)) return { ok: false, error: "records must be an array" };
  const records: RevocationRecord[] = [];
  for (const [i, item] of v.records.entries()) {
    const parsed = parseRevocationRecord(item);
    if (!parsed.ok) return { ok: false, error: `records.${i}: ${parsed.error}` };
    records.push(parsed.record);
  }
  return { ok: true, records };
}

export function formatRevocationFile(records: readonly RevocationRecord[]): string {
  return JSON.stringify({ format: FORMAT, savedAt: new Date().toISOString(), records }, null, 1);
}

export class RevocationStore {
  private readonly target: AtomicFile;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {
    this.target = new AtomicFile(file);
  }

  /** The stored records ([] when there is no file yet); throws when the file exists but cannot be used. */
  async load(): Promise<RevocationRecord[]> {
    await this.target.checkWritable("revocations.file");
    const stale = await this.target.removeStaleTemporaries();
    if (stale.length > 0) {
      this.logger.warn(
        { event: "revocation file temporaries removed", file: this.file, removed: stale },
        "removed temporary revocation files left by a process that died while saving",
      );
    }
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new Error(`cannot read revocation file ${this.file}: ${(err as Error).message}`);
    }
    const parsed = parseRevocationFile(text);
    if (!parsed.ok) {
      throw new Error(
        `revocation file ${this.file} is unusable (${parsed.error}); fix or remove it (revoked identities would be let back in)`,
      );
    }
    return parsed.records;
  }

  save(records: readonly RevocationRecord[]): Promise<void> {
    return this.target.write(formatRevocationFile(records));
  }
}
