// The compose mesh's Prometheus: its configuration passes the real `promtool check config`, it scrapes the
// trustgate service on the port trustgate's compose config listens on, with the job name the rules select, and
// the rule file it loads is the repository's (mounted where the configuration looks for it).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { REPO } from "../mesh/repo.js";
import { prometheusBinary } from "./prometheus-binaries.js";

const CONFIG = join(REPO, "envoy-configs", "compose", "prometheus", "prometheus.yml");
const RULES = join(REPO, "envoy-configs", "observability", "prometheus", "trustgate-rules.yaml");

interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
}

const compose = YAML.parse(readFileSync(join(REPO, "docker-compose.yml"), "utf8"), { merge: true });
const service = compose.services.prometheus as { image: string; command: string[]; volumes: string[] };
const config = YAML.parse(readFileSync(CONFIG, "utf8")) as PrometheusConfig;

/** container path → host path (relative to the repository) of the service's bind mounts. */
function binds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of service.volumes) {
    const [source, target] = v.split(":");
    if (source!.startsWith("./")) out.set(target!, source!.slice(2));
  }
  return out;
}

describe("compose Prometheus", () => {
  it("runs the official image, pinned, with the mounted configuration", () => {
    expect(service.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    const configArg = service.command.find((a) => a.startsWith("--config.file="))!.split("=")[1]!;
    expect(binds().get(configArg)).toBe("envoy-configs/compose/prometheus/prometheus.yml");
    expect(service.volumes).toContain("prometheus-data:/prometheus");
  });

  it("loads the repository's rule file where its configuration looks for it", () => {
    expect(config.rule_files).toHaveLength(1);
    expect(binds().get(config.rule_files[0]!)).toBe("envoy-configs/observability/prometheus/trustgate-rules.yaml");
  });

  it("scrapes trustgate's admin listener under the job name the rules select", () => {
    const trustgateConfig = YAML.parse(
      readFileSync(join(REPO, "envoy-configs", "compose", "trustgate", "trustgate.yaml"), "utf8"),
    );
    const adminPort = String(trustgateConfig.http.addr).split(":").pop();
    expect(config.scrape_configs).toEqual([
      { job_name: "trustgate", metrics_path: "/metrics", static_configs: [{ targets: [`trustgate:${adminPort}`] }] },
    ]);
    expect(compose.services.trustgate).toBeDefined();
    expect(readFileSync(RULES, "utf8")).toContain('up{job="trustgate"}');
  });

  it("passes promtool check config (rule file path pointed at the repository's copy)", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-compose-prometheus-"));
    try {
      const file = join(dir, "prometheus.yml");
      writeFileSync(file, readFileSync(CONFIG, "utf8").replace(config.rule_files[0]!, RULES));
      const run = spawnSync(prometheusBinary("promtool"), ["check", "config", file], { encoding: "utf8" });
      const output = `${run.stdout}${run.stderr}`;
      expect(output).toContain("SUCCESS");
      expect(run.status, output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
