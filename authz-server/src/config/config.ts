/**
 * trustgate configuration: defaults ← YAML file (`--config` / TRUSTGATE_CONFIG) ← environment variables ← CLI flags.
 * Validated strictly: an unknown key is an error, so a typo can never silently leave a protection off.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const address = z.string().min(1);

const riskSchema = z
  .object({
    halfLifeSeconds: z.number().positive().default(600),
    staleAfterSeconds: z.number().positive().default(300),
    weights: z.record(z.string(), z.number().nonnegative()).default({}),
    ruleWeights: z.record(z.string(), z.number().nonnegative()).default({}),
    tagWeights: z.record(z.string(), z.number().nonnegative()).default({}),
    thresholds: z
      .object({ medium: z.number().positive(), high: z.number().positive(), critical: z.number().positive() })
      .partial()
      .default({}),
    /** How long an alert counts as active (highest alert, Critical+ lift); default: one half-life. */
    activeWindowSeconds: z.number().positive().optional(),
    /** Repeats of one alert (same identity, rule, host, container) within this window add no score. */
    dedupWindowSeconds: z.number().nonnegative().default(10),
    snapshotFile: z.string().default(""),
    snapshotIntervalSeconds: z.number().positive().default(30),
    maxIdentities: z.number().int().positive().default(100_000),
  })
  .strict();

export const configSchema = z
  .object({
    grpc: z
      .object({
        addr: address.default("127.0.0.1:9191"),
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
      })
      .strict()
      .default({ addr: "127.0.0.1:9191", maxMessageBytes: 1024 * 1024 }),
    http: z
      .object({
        addr: address.default("127.0.0.1:9192"),
        adminToken: z.string().default(""),
        adminTokenFile: z.string().default(""),
      })
      .strict()
      .default({ addr: "127.0.0.1:9192", adminToken: "", adminTokenFile: "" }),
    policies: z
      .object({
        dir: z.string().min(1).default("policies"),
        /** More policy directories loaded into the same set (e.g. a deployment's overlay next to a shared library). */
        extraDirs: z.array(z.string().min(1)).default([]),
        rootNamespace: z.string().min(1).default("istio-system"),
        watch: z.boolean().default(true),
        dryRun: z.boolean().default(false),
      })
      .strict()
      .default({ dir: "policies", extraDirs: [], rootNamespace: "istio-system", watch: true, dryRun: false }),
    identity: z
      .object({
        trustDomains: z.array(z.string().min(1)).default([]),
        trustFilterHeaders: z.boolean().default(false),
      })
      .strict()
      .default({ trustDomains: [], trustFilterHeaders: false }),
    workloads: z
      .object({ file: z.string().default("") })
      .strict()
      .default({ file: "" }),
    log: z
      .object({
        level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
        decisions: z.enum(["all", "deny", "none"]).default("all"),
        sampleRate: z.number().min(0).max(1).default(1),
      })
      .strict()
      .default({ level: "info", decisions: "all", sampleRate: 1 }),
    falco: z
      .object({
        token: z.string().default(""),
        tokenFile: z.string().default(""),
        ingest: z
          .object({
            addr: z.string().default(""),
            tls: z
              .object({ certFile: z.string(), keyFile: z.string(), clientCaFile: z.string().default("") })
              .strict()
              .optional(),
            maxBodyBytes: z
              .number()
              .int()
              .positive()
              .default(1024 * 1024),
            ratePerSecond: z.number().positive().default(2000),
            burst: z.number().int().positive().default(10_000),
          })
          .strict()
          .default({ addr: "", maxBodyBytes: 1024 * 1024, ratePerSecond: 2000, burst: 10_000 }),
        mapping: z
          .object({
            strategy: z.enum(["static", "kubernetes", "label"]).default("static"),
            trustDomain: z.string().default("cluster.local"),
            label: z.string().default(""),
            /** kubeconfig for the kubernetes strategy; "" = KUBECONFIG, ~/.kube/config or in-cluster. */
            kubeconfig: z.string().default(""),
            maxPods: z.number().int().positive().default(100_000),
          })
          .strict()
          .default({ strategy: "static", trustDomain: "cluster.local", label: "", kubeconfig: "", maxPods: 100_000 }),
      })
      .strict()
      .default({
        token: "",
        tokenFile: "",
        ingest: { addr: "", maxBodyBytes: 1024 * 1024, ratePerSecond: 2000, burst: 10_000 },
        mapping: { strategy: "static", trustDomain: "cluster.local", label: "", kubeconfig: "", maxPods: 100_000 },
      }),
    risk: riskSchema.default(riskSchema.parse({})),
    redis: z
      .object({
        url: z.string().default(""),
        /** Prefix of trustgate's Redis keys (the shared risk event stream is `<prefix>:risk:events`). */
        keyPrefix: z.string().min(1).default("trustgate"),
        /** Approximate cap on the shared event stream (what a reconnecting replica can catch up on). */
        streamMaxLen: z.number().int().positive().default(100_000),
      })
      .strict()
      .default({ url: "", keyPrefix: "trustgate", streamMaxLen: 100_000 }),
    shutdownGraceSeconds: z.number().positive().default(10),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

type Env = Readonly<Record<string, string | undefined>>;

function bool(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new Error(`${name}: expected true or false, got "${value}"`);
}

function num(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new Error(`${name}: expected a number, got "${value}"`);
  return n;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Environment variables and the config path each one sets. */
export const ENVIRONMENT: ReadonlyArray<readonly [string, string, (name: string, v: string) => unknown]> = [
  ["TRUSTGATE_GRPC_ADDR", "grpc.addr", (_n, v) => v],
  ["TRUSTGATE_HTTP_ADDR", "http.addr", (_n, v) => v],
  ["TRUSTGATE_ADMIN_TOKEN", "http.adminToken", (_n, v) => v],
  ["TRUSTGATE_ADMIN_TOKEN_FILE", "http.adminTokenFile", (_n, v) => v],
  ["TRUSTGATE_POLICY_DIR", "policies.dir", (_n, v) => v],
  ["TRUSTGATE_POLICY_EXTRA_DIRS", "policies.extraDirs", (_n, v) => list(v)],
  ["TRUSTGATE_ROOT_NAMESPACE", "policies.rootNamespace", (_n, v) => v],
  ["TRUSTGATE_POLICY_WATCH", "policies.watch", bool],
  ["TRUSTGATE_DRY_RUN", "policies.dryRun", bool],
  ["TRUSTGATE_TRUST_DOMAINS", "identity.trustDomains", (_n, v) => list(v)],
  ["TRUSTGATE_TRUST_FILTER_HEADERS", "identity.trustFilterHeaders", bool],
  ["TRUSTGATE_WORKLOADS_FILE", "workloads.file", (_n, v) => v],
  ["TRUSTGATE_LOG_LEVEL", "log.level", (_n, v) => v],
  ["TRUSTGATE_DECISION_LOG", "log.decisions", (_n, v) => v],
  ["TRUSTGATE_DECISION_LOG_SAMPLE_RATE", "log.sampleRate", num],
  ["TRUSTGATE_FALCO_TOKEN", "falco.token", (_n, v) => v],
  ["TRUSTGATE_FALCO_TOKEN_FILE", "falco.tokenFile", (_n, v) => v],
  ["TRUSTGATE_FALCO_INGEST_ADDR", "falco.ingest.addr", (_n, v) => v],
  ["TRUSTGATE_FALCO_MAPPING", "falco.mapping.strategy", (_n, v) => v],
  ["TRUSTGATE_FALCO_MAPPING_LABEL", "falco.mapping.label", (_n, v) => v],
  ["TRUSTGATE_RISK_HALF_LIFE_SECONDS", "risk.halfLifeSeconds", num],
  ["TRUSTGATE_RISK_STALE_AFTER_SECONDS", "risk.staleAfterSeconds", num],
  ["TRUSTGATE_RISK_SNAPSHOT_FILE", "risk.snapshotFile", (_n, v) => v],
  ["TRUSTGATE_REDIS_URL", "redis.url", (_n, v) => v],
];

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

export class ConfigError extends Error {}

function formatIssues(error: z.ZodError, origin: string): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.join(".") || "(root)";
      return `${origin}: ${where}: ${issue.message}`;
    })
    .join("\n");
}

/** Builds the configuration from an already-parsed file object, the environment and flag overrides. */
export function resolveConfig(
  file: unknown,
  env: Env,
  overrides: Record<string, unknown> = {},
  origin = "config",
): Config {
  if (file !== undefined && file !== null && (typeof file !== "object" || Array.isArray(file))) {
    throw new ConfigError(`${origin}: expected a YAML map at the top level`);
  }
  const merged = structuredClone((file ?? {}) as Record<string, unknown>);
  for (const [name, path, convert] of ENVIRONMENT) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    try {
      setPath(merged, path, convert(name, value));
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  for (const [path, value] of Object.entries(overrides)) if (value !== undefined) setPath(merged, path, value);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, origin));
  return parsed.data;
}

export async function loadConfig(
  path: string | undefined,
  env: Env,
  overrides: Record<string, unknown> = {},
): Promise<Config> {
  const file = path ?? env.TRUSTGATE_CONFIG;
  let parsed: unknown = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    try {
      parsed = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
    }
  }
  return resolveConfig(parsed, env, overrides, file ?? "config");
}

/** A secret given inline or as a file (a mounted Kubernetes/compose secret); the file wins when both are set. */
export async function readSecret(inline: string, file: string, name: string): Promise<string> {
  if (file) {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (err) {
      throw new ConfigError(`cannot read ${name} file ${file}: ${(err as Error).message}`);
    }
  }
  return inline;
}
