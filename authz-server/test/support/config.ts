/** Configuration for tests: resolved like the server's, failing the test on an invalid one. */
import { resolveConfig } from "../../src/config/load-config.js";
import type { Config } from "../../src/config/schema.js";

export function testConfig(file: unknown, env: Record<string, string> = {}): Config {
  const result = resolveConfig(file, env);
  if (!result.ok) throw new Error(result.error);
  return result.config;
}
