import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ConfigResult, loadConfig, resolveConfig } from "./load-config.js";
import { readSecret } from "./secrets.js";

function ok(result: ConfigResult) {
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

function error(result: ConfigResult): string {
  return result.ok ? "(no error)" : result.error;
}

describe("configuration", () => {
  it("has working defaults (npm start needs no file)", () => {
    const c = ok(resolveConfig(undefined, {}));
    expect(c.grpc.addr).toBe("127.0.0.1:9191");
    expect(c.http.addr).toBe("127.0.0.1:9192");
    expect(c.policies).toMatchObject({ dir: "policies", rootNamespace: "istio-system", watch: true, dryRun: false });
    expect(c.identity).toEqual({
      trustDomains: [],
      trustFilterHeaders: false,
      filterIdentityWithoutPeer: false,
      meshTrustDomain: "cluster.local",
      trustDomainAliases: [],
    });
    expect(c.jwt).toEqual({ enabled: false, payloadKeys: [] });
    expect(c.remoteIp).toEqual({ numTrustedProxies: 0 });
    expect(c.redis.url).toBe("");
  });

  it("takes Redis as redis://, rediss:// or a socket path, and refuses anything else without repeating it", () => {
    for (const url of [
      "redis://h:6379",
      "rediss://user:pw@redis.example:6380/2",
      "redis://[::1]:6379",
      "/run/redis.sock",
    ]) {
      expect(ok(resolveConfig({ redis: { url } }, {})).redis.url).toBe(url);
    }
    const cases: Array<[string, string]> = [
      ["http://:hunter2@h:6379", 'its scheme is "http"'],
      ["localhost:6379", "it has no scheme"],
      ["redis//:hunter2@h", "it has no scheme"],
      ["redis://:hunter2@h:99999", "it does not parse as a URL"],
      ["redis://:hunter2@h/secrets", "its path is not a database number"],
    ];
    for (const [url, problem] of cases) {
      const fromFile = error(resolveConfig({ redis: { url } }, {}));
      expect(fromFile).toContain(`redis.url: expected redis://[user:password@]host[:port][/db]`);
      expect(fromFile).toContain(problem);
      const fromEnv = error(resolveConfig({}, { TRUSTGATE_REDIS_URL: url }));
      expect(fromEnv).toContain("TRUSTGATE_REDIS_URL (value not shown) (redis.url)");
      expect(fromEnv + fromFile).not.toContain("hunter2");
    }
  });

  it("refuses a secret set both inline and as a file, and never prints the secret", () => {
    expect(error(resolveConfig({ http: { adminToken: "s3cret-admin", adminTokenFile: "/run/t" } }, {}))).toContain(
      "http.adminToken: set adminToken or adminTokenFile, not both",
    );
    const fromEnv = error(resolveConfig({ falco: { tokenFile: "/run/f" } }, { TRUSTGATE_FALCO_TOKEN: "s3cret-falco" }));
    expect(fromEnv).toBe("TRUSTGATE_FALCO_TOKEN (value not shown) (falco.token): set token or tokenFile, not both");
    expect(error(resolveConfig({ redis: { eventKey: "k", eventKeyFile: "/run/k" } }, {}))).toContain(
      "redis.eventKey: set eventKey or eventKeyFile, not both",
    );
    expect(ok(resolveConfig({ falco: { tokenFile: "/run/f" } }, {})).falco.tokenFile).toBe("/run/f");
  });

  it("reads the mesh, JWT and remote-IP settings from the environment and checks them", () => {
    const c = ok(
      resolveConfig(
        {},
        {
          TRUSTGATE_MESH_TRUST_DOMAIN: "td1",
          TRUSTGATE_TRUST_DOMAIN_ALIASES: "cluster.local, old.td",
          TRUSTGATE_JWT_ENABLED: "true",
          TRUSTGATE_JWT_PAYLOAD_KEYS: "payload",
          TRUSTGATE_NUM_TRUSTED_PROXIES: "2",
        },
      ),
    );
    expect(c.identity).toMatchObject({ meshTrustDomain: "td1", trustDomainAliases: ["cluster.local", "old.td"] });
    expect(c.jwt).toEqual({ enabled: true, payloadKeys: ["payload"] });
    expect(c.remoteIp.numTrustedProxies).toBe(2);
    expect(error(resolveConfig({ identity: { meshTrustDomain: "Bad Domain" } }, {}))).toMatch(
      /identity\.meshTrustDomain/,
    );
    expect(error(resolveConfig({ remoteIp: { numTrustedProxies: -1 } }, {}))).toMatch(/remoteIp\.numTrustedProxies/);
  });

  it("layers file < environment < flags", () => {
    const c = ok(
      resolveConfig(
        { grpc: { addr: "0.0.0.0:1" }, identity: { trustDomains: ["a.example"] }, log: { level: "warn" } },
        {
          TRUSTGATE_GRPC_ADDR: "0.0.0.0:2",
          TRUSTGATE_TRUST_DOMAINS: "cluster.local, other.example",
          TRUSTGATE_DRY_RUN: "true",
        },
        { "grpc.addr": "unix:/tmp/tg.sock" },
      ),
    );
    expect(c.grpc.addr).toBe("unix:/tmp/tg.sock");
    expect(c.identity.trustDomains).toEqual(["cluster.local", "other.example"]);
    expect(c.policies.dryRun).toBe(true);
    expect(c.log.level).toBe("warn");
  });

  it("refuses unknown keys and wrong types, naming them", () => {
    expect(error(resolveConfig({ identity: { trustFilterHeader: true } }, {}))).toMatch(
      /identity: Unrecognized key: "trustFilterHeader"/,
    );
    expect(error(resolveConfig({ log: { decisions: "some" } }, {}))).toMatch(/log\.decisions/);
    expect(error(resolveConfig({}, { TRUSTGATE_DRY_RUN: "maybe" }))).toMatch(
      /TRUSTGATE_DRY_RUN: expected true or false/,
    );
    expect(error(resolveConfig({}, { TRUSTGATE_DECISION_LOG_SAMPLE_RATE: "lots" }))).toMatch(/expected a number/);
    expect(error(resolveConfig([1, 2], {}))).toMatch(/expected a YAML map/);
  });

  it("loads a YAML file named by TRUSTGATE_CONFIG and reads secrets from files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-config-"));
    await writeFile(join(dir, "c.yaml"), "policies:\n  dir: /etc/trustgate/policies\n");
    await writeFile(join(dir, "token"), "from-file\n");
    const c = ok(await loadConfig(undefined, { TRUSTGATE_CONFIG: join(dir, "c.yaml") }));
    expect(c.policies.dir).toBe("/etc/trustgate/policies");
    expect(await readSecret("inline", join(dir, "token"), "x")).toBe("from-file");
    expect(await readSecret("inline", "", "x")).toBe("inline");
    await expect(readSecret("", join(dir, "missing"), "falco.tokenFile")).rejects.toThrow(
      /cannot read falco.tokenFile file/,
    );
    expect(error(await loadConfig(join(dir, "nope.yaml"), {}))).toMatch(/cannot read config file/);
  });

  it("takes workers as a count or auto, from the file, TRUSTGATE_WORKERS or --workers", () => {
    expect(ok(resolveConfig({}, {})).workers).toBe("auto");
    expect(ok(resolveConfig({ workers: 3 }, {})).workers).toBe(3);
    expect(ok(resolveConfig({}, { TRUSTGATE_WORKERS: "4" })).workers).toBe(4);
    expect(ok(resolveConfig({ workers: 2 }, { TRUSTGATE_WORKERS: "auto" })).workers).toBe("auto");
    expect(ok(resolveConfig({}, { TRUSTGATE_WORKERS: "2" }, { workers: 1 })).workers).toBe(1);
    expect(error(resolveConfig({ workers: 0 }, {}))).toMatch(/workers/);
    expect(error(resolveConfig({ workers: 1.5 }, {}))).toMatch(/workers/);
    expect(error(resolveConfig({}, { TRUSTGATE_WORKERS: "many" }))).toMatch(/TRUSTGATE_WORKERS: expected a number/);
  });

  it("refuses a config file that is a YAML alias bomb, with its line, instead of throwing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-config-"));
    let text = 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n';
    for (let i = 1; i < 9; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]\n`;
    await writeFile(join(dir, "c.yaml"), text);
    expect(error(await loadConfig(join(dir, "c.yaml"), {}))).toMatch(/c\.yaml:\d+: aliases expand to more than/);
  });

  it("has YAML limits with safe defaults, and refuses nonsense values", () => {
    const c = ok(resolveConfig({ yaml: { maxAliases: 5 } }, {}));
    expect(c.yaml).toEqual({
      maxFileBytes: 1024 * 1024,
      maxDocuments: 10_000,
      maxDepth: 64,
      maxAliases: 5,
      maxAliasExpansion: 100_000,
    });
    expect(error(resolveConfig({ yaml: { maxDepth: 100_000 } }, {}))).toMatch(/maxDepth/);
    expect(error(resolveConfig({ yaml: { maxFileBytes: 0 } }, {}))).toMatch(/maxFileBytes/);
  });

  it("keeps rule and tag weights named like JavaScript built-ins", () => {
    const c = ok(resolveConfig(JSON.parse('{"risk": {"ruleWeights": {"__proto__": 7, "constructor": 3}}}'), {}));
    expect(Object.entries(c.risk.ruleWeights)).toEqual([
      ["__proto__", 7],
      ["constructor", 3],
    ]);
    expect(Object.keys(ok(resolveConfig(undefined, {})).risk.tagWeights)).toEqual([]);
  });
});

describe("configuration errors name what the user typed", () => {
  it("names the environment variable and its text", () => {
    expect(error(resolveConfig({}, { TRUSTGATE_RISK_HALF_LIFE_SECONDS: "-5" }))).toBe(
      'TRUSTGATE_RISK_HALF_LIFE_SECONDS="-5" (risk.halfLifeSeconds): Too small: expected number to be >0',
    );
    expect(error(resolveConfig({}, { TRUSTGATE_LOG_LEVEL: "verbose" }))).toMatch(
      /^TRUSTGATE_LOG_LEVEL="verbose" \(log\.level\): Invalid option/,
    );
  });

  it("refuses a listen address without a port (grpc-js would listen on 443) or with one out of range", () => {
    for (const addr of ["localhost", ":9191", "9191", "127.0.0.1:99999", "unix:"]) {
      expect(error(resolveConfig({}, { TRUSTGATE_GRPC_ADDR: addr })), addr).toMatch(
        /^TRUSTGATE_GRPC_ADDR=".*" \(grpc\.addr\): expected host:port/,
      );
    }
    // A trust domain written as a SPIFFE ID would refuse every caller at run time.
    expect(error(resolveConfig({}, { TRUSTGATE_TRUST_DOMAINS: "spiffe://cluster.local" }))).toMatch(
      /^TRUSTGATE_TRUST_DOMAINS=".*" \(identity\.trustDomains/,
    );
    for (const addr of ["127.0.0.1:0", "[::1]:9191", "localhost:9191", "unix:/tmp/tg.sock"]) {
      expect(resolveConfig({}, { TRUSTGATE_HTTP_ADDR: addr }).ok, addr).toBe(true);
    }
  });

  it("names the flag when a flag set the value", () => {
    expect(error(resolveConfig({}, {}, { "log.level": "loud" }, "config", { "log.level": "--log-level" }))).toMatch(
      /^--log-level "loud" \(log\.level\): Invalid option/,
    );
  });

  it("names the file and key otherwise, with the closest known key for a typo", () => {
    expect(error(resolveConfig({ grpc: { addres: "x" } }, {}, {}, "tg.yaml"))).toBe(
      'tg.yaml: grpc: Unrecognized key: "addres" (did you mean "addr"?)',
    );
    expect(error(resolveConfig({ identity: { trustFilterHeader: true } }, {}))).toBe(
      'config: identity: Unrecognized key: "trustFilterHeader" (did you mean "trustFilterHeaders"?)',
    );
    expect(error(resolveConfig({ polices: {} }, {}))).toBe(
      'config: (root): Unrecognized key: "polices" (did you mean "policies"?)',
    );
    expect(error(resolveConfig({ falco: { ingest: { rate: 1 } } }, {}))).toBe(
      'config: falco.ingest: Unrecognized key: "rate" (did you mean "ratePerSecond"?)',
    );
    expect(error(resolveConfig({ falco: { ingest: { colour: 1 } } }, {}))).toBe(
      'config: falco.ingest: Unrecognized key: "colour"',
    );
  });
});
