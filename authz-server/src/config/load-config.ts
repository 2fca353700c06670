/**
 * trustgate configuration: defaults ← YAML file (`--config` / TRUSTGATE_CONFIG) ← environment variables ← CLI flags,
 * validated by the schema. Like every parser in trustgate it returns a result instead of throwing.
 */
import { readFile, stat } from "node:fs/promises";
import type { z } from "zod";
import { didYouMean } from "../util/did-you-mean.js";
import { formatIssue, issuePath } from "../util/format-issues.js";
import { DEFAULT_YAML_LIMITS, formatYamlProblem, parseYamlValue, sizeProblem } from "../util/safe-yaml.js";
import { objectKeysAt } from "../util/schema-keys.js";
import { ENVIRONMENT } from "./environment.js";
import { type Config, configSchema } from "./schema.js";

export type ConfigResult = { ok: true; config: Config } | { ok: false; error: string };

type Env = Readonly<Record<string, string | undefined>>;

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

/**
 * One line per issue, naming what the user typed: the environment variable or flag that set the value (its text
 * included), else the file; unknown keys get the closest known key.
 */
function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  origin: string,
  setBy: ReadonlyMap<string, string>,
): string {
  return issues
    .map((issue) => {
      let line = formatIssue(issue, origin);
      if (issue.code === "unrecognized_keys") {
        const known = objectKeysAt(configSchema, issue.path);
        const hints = issue.keys.map((k) => didYouMean(k, known)).filter((h) => h !== "");
        if (hints.length > 0) line += hints.join("");
      }
      const path = issuePath(issue.path);
      for (const [setPath, label] of setBy) {
        if (path === setPath || path.startsWith(`${setPath}.`)) return `${label} (${path}): ${issue.message}`;
      }
      return line;
    })
    .join("\n");
}

/** Keys whose values are secrets (or may hold one, as a Redis URL's password): an error names them, never their text. */
const SECRET_PATHS: ReadonlySet<string> = new Set(["http.adminToken", "falco.token", "redis.url", "redis.eventKey"]);

function shown(path: string, value: unknown): string {
  return SECRET_PATHS.has(path) ? "(value not shown)" : JSON.stringify(value);
}

/**
 * Builds the configuration from an already-parsed file object, the environment and flag overrides. `flagNames`
 * maps an override's config path to the flag that set it, so an invalid value is reported under that flag.
 */
export function resolveConfig(
  file: unknown,
  env: Env,
  overrides: Record<string, unknown> = {},
  origin = "config",
  flagNames: Readonly<Record<string, string>> = {},
): ConfigResult {
  if (file !== undefined && file !== null && (typeof file !== "object" || Array.isArray(file))) {
    return { ok: false, error: `${origin}: expected a YAML map at the top level` };
  }
  const merged = structuredClone((file ?? {}) as Record<string, unknown>);
  const setBy = new Map<string, string>();
  for (const [name, path, convert] of ENVIRONMENT) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const converted = convert(name, value);
    if (!converted.ok) return { ok: false, error: converted.error };
    setPath(merged, path, converted.value);
    setBy.set(path, SECRET_PATHS.has(path) ? `${name} ${shown(path, value)}` : `${name}=${JSON.stringify(value)}`);
  }
  for (const [path, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    setPath(merged, path, value);
    const flag = flagNames[path];
    if (flag !== undefined) setBy.set(path, `${flag} ${shown(path, value)}`);
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error.issues, origin, setBy) };
  return { ok: true, config: parsed.data };
}

export async function loadConfig(
  path: string | undefined,
  env: Env,
  overrides: Record<string, unknown> = {},
  flagNames: Readonly<Record<string, string>> = {},
): Promise<ConfigResult> {
  const file = path ?? env.TRUSTGATE_CONFIG;
  let parsed: unknown = {};
  if (file) {
    // The configuration is read before its own `yaml` limits are known: it always gets the defaults.
    let text: string;
    try {
      const tooBig = sizeProblem((await stat(file)).size, DEFAULT_YAML_LIMITS);
      if (tooBig) return { ok: false, error: `config file ${formatYamlProblem(file, tooBig)}` };
      text = await readFile(file, "utf8");
    } catch (err) {
      return { ok: false, error: `cannot read config file ${file}: ${(err as Error).message}` };
    }
    const value = parseYamlValue(text, DEFAULT_YAML_LIMITS);
    if (!value.ok) return { ok: false, error: `config file ${formatYamlProblem(file, value.problem)}` };
    parsed = value.value ?? {};
  }
  return resolveConfig(parsed, env, overrides, file ?? "config", flagNames);
}
