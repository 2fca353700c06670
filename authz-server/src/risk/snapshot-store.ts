/**
 * The risk state on disk, so it survives a restart: one JSON file, replaced atomically (write a temporary file in
 * the same directory, fsync, rename). A file that cannot be read as a snapshot is moved aside and reported, and the
 * server starts with empty risk state rather than not at all.
 */
import { readFile, rename } from "node:fs/promises";
import { z } from "zod";
import { FALCO_PRIORITIES } from "../model/risk-view.js";
import type { Logger } from "../observability/logger.js";
import { formatIssue } from "../util/format-issues.js";
import { AtomicFile } from "./atomic-file.js";
import type { EngineState } from "./engine-state.js";

const FORMAT = "trustgate-risk-snapshot/1";

const entrySchema = z
  .object({
    rule: z.string(),
    priority: z.enum(FALCO_PRIORITIES),
    time: z.string(),
    eventMs: z.number(),
    receivedMs: z.number(),
    lastMs: z.number(),
    lastTime: z.string(),
    lastReceivedMs: z.number(),
    weight: z.number().nonnegative(),
    count: z.number().int().positive(),
    dedupKey: z.string(),
    // Absent in snapshots written before operator clears named the alerts they clear.
    ids: z.array(z.string()).optional(),
  })
  .strict();

const snapshotSchema = z
  .object({
    format: z.literal(FORMAT),
    savedAt: z.string(),
    state: z
      .object({
        lastHeardMs: z.number().nullable(),
        identities: z.array(
          z
            .object({
              spiffeId: z.string().startsWith("spiffe://"),
              residualScore: z.number().nonnegative(),
              residualAtMs: z.number(),
              alerts: z.array(entrySchema),
            })
            .strict(),
        ),
        seen: z.array(z.tuple([z.string(), z.number()])),
      })
      .strict(),
  })
  .strict();

export class SnapshotStore {
  private readonly target: AtomicFile;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {
    this.target = new AtomicFile(file);
  }

  /** The saved state, or null when there is none (or it was unusable: then it is moved aside). */
  async load(): Promise<EngineState | null> {
    await this.target.checkWritable("risk.snapshotFile");
    const stale = await this.target.removeStaleTemporaries();
    if (stale.length > 0) {
      this.logger.warn(
        { event: "risk snapshot temporaries removed", file: this.file, removed: stale },
        "removed temporary snapshot files left by a process that died while saving",
      );
    }
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`cannot read risk snapshot ${this.file}: ${(err as Error).message}`);
    }
    let problem: string;
    try {
      const parsed = snapshotSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data.state;
      problem = parsed.error.issues
        .slice(0, 3)
        .map((issue) => formatIssue(issue))
        .join("; ");
    } catch (err) {
      problem = `not JSON: ${(err as Error).message}`;
    }
    const aside = `${this.file}.unreadable-${Date.now()}`;
    await rename(this.file, aside).catch(() => undefined);
    this.logger.error(
      { event: "risk snapshot unreadable", file: this.file, moved_to: aside, problem },
      "risk snapshot is unreadable; moved aside, starting with empty risk state",
    );
    return null;
  }

  /** Writes the state (one write at a time: a save asked for during another waits for it). */
  save(state: EngineState): Promise<void> {
    return this.target.write(JSON.stringify({ format: FORMAT, savedAt: new Date().toISOString(), state }));
  }
}
