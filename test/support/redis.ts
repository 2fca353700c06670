/**
 * A real `redis-server` for tests (the Debian package): started on a free port with no persistence, stopped and
 * started again on the same port to simulate an outage. When the binary is missing and we run as root, installs the
 * package once (`apt-get install -y redis-server`); otherwise fails with a message saying how to get it. CI's
 * `.ci/run` installs it up front.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "./free-port.js";

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL: an outage, not a clean shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

let binary: string | null = null;

function findRedis(): string | null {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path !== "" ? path : null;
}

/** The redis-server binary, installing the Debian package once if it is missing and we may. */
export function redisServerBinary(): string {
  if (binary !== null) return binary;
  let path = findRedis();
  if (path === null && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let install = spawnSync("apt-get", ["install", "-y", "-qq", "redis-server"], { env, encoding: "utf8" });
    if (install.status !== 0) {
      spawnSync("apt-get", ["update", "-qq"], { env });
      install = spawnSync("apt-get", ["install", "-y", "-qq", "redis-server"], { env, encoding: "utf8" });
    }
    path = findRedis();
  }
  if (path === null) {
    throw new Error(
      "redis-server is not installed and could not be installed here: install the Debian package redis-server " +
        "(apt-get install redis-server; CI's .ci/run does this) to run the replica-sharing tests",
    );
  }
  binary = path;
  return path;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let reply = "";
    socket.setTimeout(500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.startsWith("+PONG"));
      }
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(false));
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const path = redisServerBinary();
  const port = await freePort();
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    const proc = spawn(
      path,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    proc.stdout?.on("data", (d) => {
      output += d.toString();
    });
    proc.stderr?.on("data", (d) => {
      output += d.toString();
    });
    child = proc;
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server did not start on port ${port}:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGKILL");
    await exited;
  }

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, stop, start };
}
