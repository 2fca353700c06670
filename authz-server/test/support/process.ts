/**
 * Runs the real `trustgate` command (the compiled CLI, as a user runs it) as a child process.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { closeSync, constants, createReadStream, existsSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../../test/support/free-port.js";

export { freePort };

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BIN = join(REPO, "authz-server", "bin", "trustgate.js");

export function requireBuild(): void {
  if (!existsSync(join(REPO, "authz-server", "dist", "cli", "main.js"))) {
    throw new Error("authz-server is not built: run `npm run build:server` (npm test does it first)");
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
  /** From the first stderr output to exit (null without stderr output). */
  msAfterStderr: number | null;
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  requireBuild();
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let stderrAt: number | null = null;
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderrAt ??= Date.now();
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("exit", () => {
      clearTimeout(timer);
    });
    child.on("close", (code) => {
      const now = Date.now();
      resolve({ code, stdout, stderr, ms: now - started, msAfterStderr: stderrAt === null ? null : now - stderrAt });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly output: { stdout: string; stderr: string };
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * What the child's stdout is: a socket (what Node's spawn gives, and systemd's journal), a pipe (what a container
 * runtime or a shell gives; made here as a named pipe) or a regular file (`trustgate serve > decisions.log`).
 */
export type StdoutKind = "socket" | "pipe" | "file";

/** Starts `trustgate serve` and waits until it reports ready. */
export async function startServe(
  args: string[],
  env: Record<string, string> = {},
  stdout: StdoutKind = "socket",
): Promise<ServeProcess> {
  // Another test process may take a port between freePort() and the child's listen: start again on fresh ports then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServeOnce(args, env, stdout);
    } catch (error) {
      const lostPortRace =
        error instanceof PortTakenError && !("TRUSTGATE_GRPC_ADDR" in env || "TRUSTGATE_HTTP_ADDR" in env);
      if (!lostPortRace || attempt === 3) throw error;
    }
  }
}

class PortTakenError extends Error {}

/** A named pipe to give a child as its stdout, and what reads it. */
function namedPipe() {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-fifo-"));
  const path = join(dir, "stdout");
  execFileSync("mkfifo", [path]);
  // Opened read-write, the open does not wait for a reader; the reader opens while this end exists.
  const writeFd = openSync(path, constants.O_RDWR);
  const reader = createReadStream(path);
  reader.once("open", () => rmSync(dir, { recursive: true, force: true }));
  return { writeFd, reader };
}

/** A regular file to give a child as its stdout (truncated, not appended: what `>` gives), and what tails it. */
function outputFile() {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-stdout-"));
  const path = join(dir, "stdout");
  const writeFd = openSync(path, "w");
  const readFd = openSync(path, "r");
  const reader = new EventEmitter();
  const chunk = Buffer.alloc(1 << 16);
  const readAll = () => {
    for (let n = readSync(readFd, chunk); n > 0; n = readSync(readFd, chunk)) {
      reader.emit("data", Buffer.from(chunk.subarray(0, n)));
    }
  };
  const timer = setInterval(readAll, 20);
  const stop = () => {
    clearInterval(timer);
    readAll();
    closeSync(readFd);
    rmSync(dir, { recursive: true, force: true });
  };
  return { writeFd, reader, stop };
}

async function startServeOnce(args: string[], env: Record<string, string>, stdout: StdoutKind): Promise<ServeProcess> {
  requireBuild();
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const pipe = stdout === "pipe" ? namedPipe() : stdout === "file" ? outputFile() : null;
  const child = spawn(process.execPath, [BIN, "serve", ...args], {
    cwd: REPO,
    env: {
      ...process.env,
      TRUSTGATE_GRPC_ADDR: grpcAddress,
      TRUSTGATE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      ...env,
    },
    stdio: ["pipe", pipe?.writeFd ?? "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  // With a named pipe the child (and its workers) hold the only write end: the reader ends when they have all exited.
  if (pipe !== null) closeSync(pipe.writeFd);
  (pipe?.reader ?? child.stdout!).on("data", (d: Buffer | string) => {
    output.stdout += d;
  });
  child.stderr!.on("data", (d) => {
    output.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (pipe !== null && "stop" in pipe) pipe.stop();
      resolve(code);
    }),
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const message = `trustgate serve exited early:\n${output.stdout}\n${output.stderr}`;
      const portTaken = /already in use|already uses port/.test(output.stderr);
      throw portTaken ? new PortTakenError(message) : new Error(message);
    }
    try {
      const r = await fetch(`${httpUrl}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`trustgate serve did not become ready:\n${output.stdout}\n${output.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    grpcAddress,
    httpUrl,
    output,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
