/**
 * What the policy directories look like right now, as far as loading them is concerned: every policy file (reached
 * through whatever symlinks lead to it) with its size, modification time and inode, and every directory on the way.
 * Two equal snapshots taken a while apart mean nothing is being written; a different one means something changed —
 * an edited file, a renamed directory, a swapped symlink (git-sync) or a Kubernetes ConfigMap's `..data` swap.
 */
import { readdir, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isPolicyTestFile } from "../policy/policy-files.js";

export interface PolicySnapshot {
  /** One line per file and directory; equal keys mean nothing that loading reads has changed. */
  readonly key: string;
  /**
   * Directories to watch for events, by real path, with their identity (device:inode): every directory walked, and
   * the parent of each configured path. A directory replaced under the same path has a new identity.
   */
  readonly directories: ReadonlyMap<string, string>;
  readonly files: ReadonlyMap<string, string>;
  /** Why the directories could not be read (the configured path is missing, unreadable…), or null. */
  readonly error: string | null;
}

function isPolicyFile(name: string): boolean {
  return /\.ya?ml$/.test(name) && !isPolicyTestFile(name);
}

export async function takeSnapshot(paths: readonly string[]): Promise<PolicySnapshot> {
  const lines: string[] = [];
  const directories = new Map<string, string>();
  const addParent = async (path: string) => {
    try {
      const real = await realpath(path);
      const info = await stat(real, { bigint: true });
      directories.set(real, `${info.dev}:${info.ino}`);
    } catch {
      // Missing: the walk reports what matters.
    }
  };
  const files = new Map<string, string>();
  let error: string | null = null;

  async function walk(path: string, explicit: boolean): Promise<void> {
    const info = await stat(path, { bigint: true });
    if (info.isDirectory()) {
      const real = await realpath(path);
      directories.set(real, `${info.dev}:${info.ino}`);
      lines.push(`d\t${path}\t${real}\t${info.dev}:${info.ino}`);
      for (const entry of (await readdir(path)).sort()) {
        if (entry.startsWith(".")) continue;
        await walk(join(path, entry), false);
      }
    } else if (explicit || isPolicyFile(path)) {
      const state = `${info.size}\t${info.mtimeNs}\t${info.ctimeNs}\t${info.dev}:${info.ino}`;
      files.set(path, state);
      lines.push(`f\t${path}\t${state}`);
    }
  }

  for (const path of paths) {
    // Renaming the configured directory, or swapping the symlink it is (`mv -T tmp link`), is an event there.
    await addParent(dirname(path));
    try {
      await walk(path, false);
    } catch (err) {
      error ??= `${path}: ${(err as Error).message}`;
      lines.push(`e\t${path}\t${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  return { key: lines.join("\n"), directories, files, error };
}

/** A short description of what changed, for the reload's trigger. */
export function describeChange(before: PolicySnapshot | null, after: PolicySnapshot): string {
  if (after.error) return `policy directories unreadable (${after.error})`;
  if (before === null) return "policy directories changed";
  const changes: string[] = [];
  for (const [path, state] of after.files) {
    const old = before.files.get(path);
    if (old === undefined) changes.push(`added ${path}`);
    else if (old !== state) changes.push(`changed ${path}`);
  }
  for (const path of before.files.keys()) if (!after.files.has(path)) changes.push(`removed ${path}`);
  if (changes.length === 0) return "policy directories replaced";
  const shown = changes.slice(0, 5).join(", ");
  return changes.length > 5 ? `${shown} and ${changes.length - 5} more` : shown;
}
