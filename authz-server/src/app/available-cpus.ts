/**
 * How many CPUs this process may use, for `workers: auto`: the smaller of the CPUs in its affinity mask and its
 * cgroup CPU quota, rounded up (a Kubernetes CPU limit of 1500m gives 2, of 500m gives 1).
 *
 * Node 20's `os.availableParallelism()` counts the affinity mask only (libuv's sched_getaffinity); it does not read
 * the cgroup quota, so that is read here: `cpu.max` (cgroup v2) or `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1), for
 * the process's cgroup and every cgroup above it, since any of them can limit it.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Reads a small file, or null when it does not exist or cannot be read. */
export type ReadFile = (path: string) => string | null;

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** `cpu.max` ("<quota> <period>" or "max <period>") → CPUs, or null when unlimited or unreadable. */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === "max") return null;
  return ratio(quota, period ?? "100000");
}

function ratio(quota: string, period: string): number | null {
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return q / p;
}

/** `/a/b/c` → [`/a/b/c`, `/a/b`, `/a`, ``]: a cgroup and every cgroup above it. */
function selfAndAncestors(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(i === 0 ? "" : `/${parts.slice(0, i).join("/")}`);
  return out;
}

/** The tightest quota over the cgroup's directories under `mount` (or the mount itself, inside a container). */
function tightest(
  mount: string,
  cgroupPath: string,
  quotaOf: (dir: string) => number | null | undefined,
): number | null {
  let best: number | null = null;
  let found = false;
  for (const rel of [...selfAndAncestors(cgroupPath), ""]) {
    const quota = quotaOf(`${mount}${rel}`);
    if (quota === undefined) continue; // no such directory here
    found = true;
    if (quota !== null && (best === null || quota < best)) best = quota;
  }
  return found ? best : null;
}

/** The cgroup CPU quota of this process in CPUs (fractional), or null when there is none. */
export function cgroupCpuQuota(read: ReadFile = readOrNull): number | null {
  const self = read("/proc/self/cgroup");
  if (self === null) return null;
  let best: number | null = null;
  const consider = (q: number | null) => {
    if (q !== null && (best === null || q < best)) best = q;
  };
  for (const line of self.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (controllers === undefined || path === undefined) continue;
    if (controllers === "") {
      // cgroup v2: one unified hierarchy (mounted at /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts).
      for (const mount of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
        consider(
          tightest(mount, path, (dir) => {
            const text = read(`${dir}/cpu.max`);
            return text === null ? undefined : parseCpuMax(text);
          }),
        );
      }
    } else if (controllers.split(",").includes("cpu")) {
      // cgroup v1: the cpu controller's own hierarchy.
      for (const mount of [`/sys/fs/cgroup/${controllers}`, "/sys/fs/cgroup/cpu"]) {
        consider(
          tightest(mount, path, (dir) => {
            const quota = read(`${dir}/cpu.cfs_quota_us`);
            if (quota === null) return undefined;
            return ratio(quota.trim(), (read(`${dir}/cpu.cfs_period_us`) ?? "100000").trim());
          }),
        );
      }
    }
  }
  return best;
}

/** CPUs this process may use: at least 1. */
export function availableCpus(read: ReadFile = readOrNull, affinity: number = availableParallelism()): number {
  const quota = cgroupCpuQuota(read);
  const limit = quota === null ? affinity : Math.min(affinity, Math.ceil(quota - 1e-9));
  return Math.max(1, limit);
}
