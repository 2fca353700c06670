/**
 * A state file replaced atomically: each write goes to a temporary file in the same directory
 * (`<file>.tmp-<pid>-<n>`), is fsynced, then renamed over the file, so a reader (or a restart after a crash) sees
 * the old content or the new, never half of one. Writes to one file are serialised: a final save and an interval
 * save asked for at once write one after the other, never into the same temporary file.
 *
 * A process killed mid-write (kill -9, OOM) leaves its temporary file behind: `removeStaleTemporaries` deletes those
 * of processes that are gone (and of an earlier life of this pid, as in a container where the server is always pid 1).
 */
import { constants } from "node:fs";
import { access, open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export class AtomicFile {
  private queue: Promise<unknown> = Promise.resolve();
  private writes = 0;

  constructor(readonly file: string) {}

  /** Writes `body` as the file's new content (after any write already under way). */
  write(body: string): Promise<void> {
    const next = this.queue.then(() => this.replace(body));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Throws, naming `key`, when the file's directory is missing or not writable: found at start rather than at the
   * first write, which may be an operator's revocation answered 500 hours later.
   */
  async checkWritable(key: string): Promise<void> {
    const dir = dirname(this.file);
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const problem = code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : "is not writable by this process";
      throw new Error(`${key} ${this.file}: the directory ${dir} ${problem}; create it or point ${key} elsewhere`);
    }
  }

  /** Deletes temporary files left by a process that died while writing; returns their names. */
  async removeStaleTemporaries(): Promise<string[]> {
    const dir = dirname(this.file);
    const prefix = `${basename(this.file)}.tmp-`;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(/^(\d+)/.exec(name.slice(prefix.length))?.[1] ?? Number.NaN);
      if (!Number.isSafeInteger(pid)) continue;
      // This process has not written yet, so a file with its pid is from an earlier life of the same pid.
      if (pid !== process.pid && processAlive(pid)) continue;
      try {
        await unlink(join(dir, name));
        removed.push(name);
      } catch {
        // Gone already, or not ours to delete: nothing to clean.
      }
    }
    return removed;
  }

  private async replace(body: string): Promise<void> {
    this.writes += 1;
    const temp = `${this.file}.tmp-${process.pid}-${this.writes}`;
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, this.file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    // The rename is durable only once the directory is: without this a power loss can bring the old file back.
    const dir = await open(dirname(this.file), "r");
    try {
      await dir.sync();
    } catch {
      // Some file systems cannot fsync a directory (EINVAL): the rename is then as durable as they make it.
    } finally {
      await dir.close();
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
