/**
 * Child processes of the mesh (the demo apps, trustgate), started so they cannot outlive the test or demo that
 * started them: each is stopped explicitly, and any still running when this process exits is killed.
 */
import { type ChildProcess, spawn } from "node:child_process";

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string | null>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string | null>;
}

export function startProcess(args: string[], env: NodeJS.ProcessEnv, cwd: string): ManagedProcess {
  installExitHook();
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const output = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    output.stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    output.stderr += d;
  });
  const exited = new Promise<number | string | null>((resolve) => {
    child.on("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal);
    });
    child.on("error", () => {
      running.delete(child);
      resolve(null);
    });
  });
  return {
    child,
    output,
    exited,
    async stop(signal = "SIGTERM", graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}

/** Polls `probe` until it returns true, or fails after `timeoutMs` with `what` and the process output. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  proc?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.child.exitCode !== null) {
      throw new Error(
        `${what}: the process exited (${proc.child.exitCode})\n${proc.output.stdout}\n${proc.output.stderr}`,
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready within ${timeoutMs} ms\n${proc?.output.stdout ?? ""}\n${proc?.output.stderr ?? ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Environment for a child: this process's, minus trustgate's own variables (the config file must decide). */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TRUSTGATE_")) env[k] = v;
  return { ...env, NO_COLOR: "1", ...extra };
}
