/**
 * A real Prometheus server for tests: its own free port on 127.0.0.1, its own temporary data directory, and a
 * configuration written for the test (scrape targets, rule files, intervals). Stopped and cleaned up explicitly;
 * killed if the test process exits first. Talks to it only through its HTTP API.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/free-port.js";
import { prometheusBinary } from "./prometheus-binaries.js";

export interface PrometheusOptions {
  /** job name → `host:port` targets scraped at /metrics. */
  readonly scrape: Readonly<Record<string, readonly string[]>>;
  readonly ruleFiles: readonly string[];
  /** Scrape and rule evaluation interval, e.g. "1s". */
  readonly interval: string;
}

export interface ApiResponse<T> {
  readonly status: "success" | "error";
  readonly data: T;
  readonly errorType?: string;
  readonly error?: string;
  readonly warnings?: string[];
}

export interface PrometheusServer {
  readonly url: string;
  readonly output: () => string;
  /** GET an API path (e.g. `/api/v1/rules`) with query parameters; resolves with the parsed JSON body. */
  api<T>(path: string, params?: Record<string, string | string[]>): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function configYaml(options: PrometheusOptions): string {
  // JSON is YAML: no quoting surprises in paths or addresses.
  return JSON.stringify({
    global: {
      scrape_interval: options.interval,
      evaluation_interval: options.interval,
      scrape_timeout: options.interval,
    },
    rule_files: options.ruleFiles,
    scrape_configs: Object.entries(options.scrape).map(([job, targets]) => ({
      job_name: job,
      metrics_path: "/metrics",
      static_configs: [{ targets }],
    })),
  });
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = prometheusBinary("prometheus");
  const dir = mkdtempSync(join(tmpdir(), "trustgate-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(configFile, configYaml(options));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => {
    child.on("exit", () => {
      running.delete(child);
      resolve();
    });
    child.on("error", () => {
      running.delete(child);
      resolve();
    });
  });

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`prometheus exited during start-up:\n${output}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    output: () => output,
    async api<T>(path: string, params: Record<string, string | string[]> = {}) {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) query.append(k, one);
      const res = await fetch(`${url}${path}?${query}`);
      return (await res.json()) as ApiResponse<T>;
    },
    stop,
  };
}
