import { describe, expect, it } from "vitest";
import { availableCpus, cgroupCpuQuota, parseCpuMax } from "./available-cpus.js";

function files(map: Record<string, string>) {
  return (path: string) => map[path] ?? null;
}

describe("available CPUs", () => {
  it("parses cpu.max", () => {
    expect(parseCpuMax("max 100000\n")).toBeNull();
    expect(parseCpuMax("150000 100000\n")).toBe(1.5);
    expect(parseCpuMax("50000 100000")).toBe(0.5);
    expect(parseCpuMax("garbage")).toBeNull();
  });

  it("honours a cgroup v2 quota inside a container (cgroup namespace: the process's cgroup is /)", () => {
    const read = files({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.max": "150000 100000\n" });
    expect(cgroupCpuQuota(read)).toBe(1.5);
    expect(availableCpus(read, 8)).toBe(2);
    expect(availableCpus(read, 1)).toBe(1); // the affinity mask can be tighter still
  });

  it("takes the tightest quota of the process's cgroup and the ones above it (v2, host view)", () => {
    const read = files({
      "/proc/self/cgroup": "0::/kubepods.slice/pod1/ctr\n",
      "/sys/fs/cgroup/kubepods.slice/pod1/ctr/cpu.max": "max 100000",
      "/sys/fs/cgroup/kubepods.slice/pod1/cpu.max": "50000 100000",
      "/sys/fs/cgroup/kubepods.slice/cpu.max": "max 100000",
    });
    expect(cgroupCpuQuota(read)).toBe(0.5);
    expect(availableCpus(read, 16)).toBe(1);
  });

  it("reads cgroup v1 cfs quota and period", () => {
    const read = files({
      "/proc/self/cgroup": "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n",
      "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
      "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
    });
    expect(availableCpus(read, 16)).toBe(3);
    const unlimited = files({
      "/proc/self/cgroup": "4:cpu,cpuacct:/\n",
      "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
      "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    });
    expect(availableCpus(unlimited, 16)).toBe(16);
  });

  it("falls back to the affinity mask without cgroup information, and never goes below 1", () => {
    expect(availableCpus(files({}), 4)).toBe(4);
    expect(availableCpus(files({ "/proc/self/cgroup": "0::/\n" }), 0)).toBe(1);
  });

  it("answers on this machine", () => {
    expect(availableCpus()).toBeGreaterThanOrEqual(1);
  });
});
