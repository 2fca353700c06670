/**
 * The real `prometheus` and `promtool` (the Debian package `prometheus`). When they are missing and we run as root,
 * installs the package once; otherwise fails with a message saying how to get them. CI's `.ci/run` installs it up
 * front. The package's own service (if it starts one on :9090) is not used: tests run their own server.
 */
import { spawnSync } from "node:child_process";

function find(name: string): string | null {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path !== "" ? path : null;
}

let installTried = false;

function installPackage(): void {
  if (installTried || process.getuid?.() !== 0) return;
  installTried = true;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let install = spawnSync("apt-get", ["install", "-y", "-qq", "prometheus"], { env, encoding: "utf8" });
  if (install.status !== 0) {
    spawnSync("apt-get", ["update", "-qq"], { env });
    install = spawnSync("apt-get", ["install", "-y", "-qq", "prometheus"], { env, encoding: "utf8" });
  }
}

/** Path of `prometheus` or `promtool`, installing the Debian package once if it is missing and we may. */
export function prometheusBinary(name: "prometheus" | "promtool"): string {
  let path = find(name);
  if (path === null) {
    installPackage();
    path = find(name);
  }
  if (path === null) {
    throw new Error(
      `${name} is not installed and could not be installed here: install the Debian package prometheus ` +
        "(apt-get install prometheus; CI's .ci/run does this) to run the observability tests",
    );
  }
  return path;
}
