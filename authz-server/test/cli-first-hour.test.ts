/**
 * What got in a new user's way with the CLI, run as real processes: failures that printed nothing, explain against
 * a server with an admin token, `policy test` of one file, explaining a whole test case, error messages that name
 * what was typed, and `--help` that names policy locations one way.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOG_LEVELS } from "../src/config/schema.js";
import { REPO, runCli, type ServeProcess, startServe } from "./support/process.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";
const ADMIN_TOKEN = "first-hour-admin-token";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-first-hour-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Exactly one line on stderr, returned. */
function oneLine(r: { stderr: string }): string {
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

describe("failures print one line naming the file, URL or flag", () => {
  it("policy test <missing path>", async () => {
    const r = await runCli(["policy", "test", "no/such/tests"]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      `trustgate policy test: no/such/tests: no such file or directory (relative to the current directory, ${REPO}) — give policy test files or directories, or none to run the tests of the policy directory`,
    );
  });

  it("explain with a flag value the request format refuses: the flag and its value, in words", async () => {
    const alert = await runCli(["explain", "--alert", "info", "--alert", "bogus"]);
    expect(alert.code).toBe(2);
    expect(oneLine(alert)).toBe(
      'trustgate explain: --alert "bogus": expected a Falco priority (emergency, alert, critical, error, warning, notice, informational, debug), or {priority, rule, time}',
    );
    const risk = await runCli(["explain", "--risk", "extreme"]);
    expect(oneLine(risk)).toBe(
      'trustgate explain: --risk "extreme": Invalid option: expected one of "low"|"medium"|"high"|"critical"',
    );
  });

  it("--workloads <missing file>", async () => {
    const r = await runCli(["policy", "test", "--workloads", "nowhere.yaml"]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      `trustgate policy test: nowhere.yaml: no such file or directory (relative to the current directory, ${REPO}) — give a workload inventory file with --workloads`,
    );
  });

  it("explain --server not-a-url", async () => {
    const r = await runCli(["explain", "--server", "not-a-url"]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      "trustgate explain: --server not-a-url: not a URL — give trustgate's admin address, e.g. --server http://127.0.0.1:9192",
    );
  });

  it("check and health against nothing: one line in words, not grpc-js's raw status", async () => {
    for (const command of ["check", "health"]) {
      const r = await runCli([command, "--addr", "127.0.0.1:1", "--timeout-ms", "2000"]);
      expect(r.code).toBe(2);
      expect(oneLine(r)).toBe(
        `trustgate ${command}: cannot reach trustgate at 127.0.0.1:1: connection refused — is \`trustgate serve\` running there? If not there, give its address with --addr (or TRUSTGATE_GRPC_ADDR)`,
      );
    }
  });

  it("check --certificate-file <not a PEM> fails locally with exit 2", async () => {
    const notPem = join(dir, "not.pem");
    await writeFile(notPem, "hello\n");
    const r = await runCli(["check", "--addr", "127.0.0.1:1", "--certificate-file", notPem]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      `trustgate check: --certificate-file ${notPem}: not a PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`,
    );
    const garbled = join(dir, "garbled.pem");
    await writeFile(garbled, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const g = await runCli(["check", "--addr", "127.0.0.1:1", "--certificate-file", garbled]);
    expect(g.code).toBe(2);
    expect(oneLine(g)).toMatch(/^trustgate check: --certificate-file .*garbled\.pem: the certificate cannot be parsed/);
  });
});

describe("explain --server with an admin token", () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServe(["--policy-dir", "policies"], {
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    });
  });
  afterAll(async () => {
    await serve.stop();
  });
  const request = ["--principal", ORDER, "--destination-principal", PAYMENT, "--label", "app=payment", "--path", "/x"];

  it("without a token: exit 2 and how to give one", async () => {
    const r = await runCli(["explain", "--server", serve.httpUrl, ...request]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      `trustgate explain: ${serve.httpUrl}/v1/explain answered 401: a valid bearer token is required — POST /v1/explain needs the admin token: give --token-file <file> or set TRUSTGATE_ADMIN_TOKEN`,
    );
  });

  it("--token, --token-file and TRUSTGATE_ADMIN_TOKEN are sent", async () => {
    const tokenFile = join(dir, "admin-token");
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`);
    const runs = [
      await runCli(["explain", "--server", serve.httpUrl, "--token", ADMIN_TOKEN, ...request]),
      await runCli(["explain", "--server", serve.httpUrl, "--token-file", tokenFile, ...request]),
      await runCli(["explain", "--server", serve.httpUrl, ...request], { env: { TRUSTGATE_ADMIN_TOKEN: ADMIN_TOKEN } }),
    ];
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("decision: DENY (403) by trustgate/default-deny");
    }
  });

  it("a wrong token is refused and said so", async () => {
    const r = await runCli(["explain", "--server", serve.httpUrl, "--token", "wrong", ...request]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toContain("the admin token was refused: check --token, --token-file or TRUSTGATE_ADMIN_TOKEN");
  });

  it("--policy-dir (or another local setting) with --server is a usage error", async () => {
    const r = await runCli(["explain", "--server", serve.httpUrl, "--policy-dir", "policies"]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      "trustgate explain: --policy-dir cannot be used with --server: the server explains with its own policies and settings — see `trustgate explain --help`",
    );
    const token = await runCli(["explain", "--token", "x"]);
    expect([token.code, oneLine(token)]).toEqual([
      2,
      "trustgate explain: --token only applies with --server — see `trustgate explain --help`",
    ]);
  });
});

describe("policy test of one file", () => {
  it("loads the policies of the directory tree it belongs to and says which", async () => {
    const r = await runCli(["policy", "test", "policies/ecommerce/payment.test.yaml"]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^policies: 1\d loaded from policies \(9 files\)$/);
    expect(r.stdout).not.toContain("policies that apply (0)");
  });

  it("outside the default directory: the file's own directory, or --policy-dir", async () => {
    const tree = join(dir, "tree");
    await mkdir(join(tree, "team"), { recursive: true });
    await writeFile(
      join(tree, "team", "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    await writeFile(
      join(tree, "team", "p.test.yaml"),
      "cases:\n  - name: GET is allowed\n    request: {destination: {namespace: services}, method: GET}\n    expect: {decision: allow, policy: services/p}\n  - name: POST is denied\n    request: {destination: {namespace: services}, method: POST}\n    expect: {decision: deny}\n",
    );
    const own = await runCli(["policy", "test", join(tree, "team", "p.test.yaml")]);
    expect(own.code, own.stdout).toBe(0);
    expect(own.stdout).toContain(`policies: 1 loaded from ${join(tree, "team")} (1 files)`);

    const empty = join(dir, "no-policies");
    await mkdir(empty);
    const none = await runCli(["policy", "test", join(tree, "team", "p.test.yaml"), "--policy-dir", empty]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(`⚠ NO POLICIES loaded from ${empty}`);
    expect(oneLine(none)).toBe(
      `trustgate policy test: NO POLICIES loaded from ${empty}: every case is decided as if no policy existed (everything allowed) — give the policy directory with --policy-dir`,
    );
  });

  it("a test file reports every error with its line, and a typo such as expected: points at its line", async () => {
    const tests = join(dir, "typos");
    await mkdir(tests);
    await writeFile(
      join(tests, "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec: {}\n",
    );
    await writeFile(
      join(tests, "p.test.yaml"),
      [
        "cases:",
        "  - name: first",
        "    request: {destination: {namespace: services}}",
        "    expected: {decision: allow}",
        "  - name: second",
        "    request:",
        "      destination: {namespace: services}",
        "      methd: GET",
        "    expect: {decision: maybe}",
        "",
      ].join("\n"),
    );
    const r = await runCli(["policy", "test", tests]);
    expect(r.code).toBe(1);
    const file = join(tests, "p.test.yaml");
    expect(r.stdout).toContain(`✗ ${file}:2: cases.0.expect: Invalid input: expected object, received undefined`);
    expect(r.stdout).toContain(
      `✗ ${file}:4: cases.0: unknown key "expected" (did you mean "expect"?) (allowed: name, request, expect)`,
    );
    expect(r.stdout).toContain(`✗ ${file}:8: cases.1.request: unknown key "methd" (did you mean "method"?)`);
    expect(r.stdout).toContain(`✗ ${file}:9: cases.1.expect.decision: Invalid option: expected one of "allow"|"deny"`);
    expect(r.stdout).toContain("0 passed, 1 failed (0 cases in 1 files)");
  });
});

describe("the offline tools read the configuration serve reads", () => {
  it("policy lint and explain take the policy directory and root namespace from --config or TRUSTGATE_CONFIG", async () => {
    const mesh = join(dir, "mesh-policies");
    await mkdir(mesh);
    // A DENY in the configured root namespace applies mesh-wide; in istio-system's place it would apply to "ops" only.
    await writeFile(
      join(mesh, "deny.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-debug, namespace: mesh-root}\nspec:\n  action: DENY\n  rules: [{to: [{operation: {paths: [/debug]}}]}]\n",
    );
    const config = join(dir, "offline.yaml");
    await writeFile(config, `policies:\n  dir: ${mesh}\n  rootNamespace: mesh-root\n`);
    const explain = ["explain", "--principal", ORDER, "--destination-principal", PAYMENT, "--path", "/debug"];
    for (const [args, env] of [
      [["--config", config], {}],
      [[], { TRUSTGATE_CONFIG: config }],
    ] as const) {
      const lint = await runCli(["policy", "lint", ...args], { env });
      expect(lint.code, lint.stderr).toBe(0);
      expect(lint.stdout).toContain("1 policies in 1 files");
      const r = await runCli([...explain, ...args], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("decision: DENY");
      expect(r.stdout).toContain("mesh-root/deny-debug");
    }
    // --root-namespace still wins: then the policy is the namespace's own and does not apply to services.
    const own = await runCli([...explain, "--config", config, "--root-namespace", "istio-system"]);
    expect(own.stdout).toContain("decision: ALLOW");
    // An invalid configuration is named by where it came from.
    await writeFile(join(dir, "bad.yaml"), "policies: {rootNamespace: 7}\n");
    const bad = await runCli(["policy", "lint"], { env: { TRUSTGATE_CONFIG: join(dir, "bad.yaml") } });
    expect(bad.code).toBe(2);
    expect(oneLine(bad)).toContain(
      `trustgate policy lint: TRUSTGATE_CONFIG ${join(dir, "bad.yaml")}: invalid configuration:`,
    );
  });
});

describe("explain --request takes a whole test case", () => {
  it("explains the case's request", async () => {
    const file = join(dir, "case.yaml");
    await writeFile(
      file,
      `name: order creates a payment\nrequest:\n  source: {principal: ${ORDER}}\n  destination: {principal: ${PAYMENT}, labels: {app: payment}}\n  method: DELETE\n  path: /api/v1/payment/1\nexpect: {decision: deny}\n`,
    );
    const r = await runCli(["explain", "--request", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('✗ to[0].operation.methods: "DELETE" not in ["GET", "POST"]');
    expect(r.stdout).toContain("decision: DENY (403) by trustgate/default-deny");
  });

  it("a test file with several cases is refused, naming them", async () => {
    const r = await runCli(["explain", "--request", "policies/ecommerce/payment.test.yaml"]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(
      /^trustgate explain: --request policies\/ecommerce\/payment\.test\.yaml: this is a policy test file with \d+ case\(s\) \("order creates a payment \(query string ignored\)", .*\); give one case, or its request$/,
    );
  });
});

describe("--help", () => {
  it("names policy locations one way (--policy-dir, repeatable) in serve, explain, policy test and lint", async () => {
    for (const command of [["serve"], ["explain"], ["policy", "test"], ["policy", "lint"]]) {
      const r = await runCli([...command, "--help"]);
      expect(r.stdout.replace(/\s+/g, " "), command.join(" ")).toContain(
        "--policy-dir <path> AuthorizationPolicy file or directory, repeatable",
      );
    }
  });

  it("shows no (default: []) noise, and defaults from the environment as such", async () => {
    for (const command of [["check"], ["explain"], ["policy", "test"], ["serve"]]) {
      const r = await runCli([...command, "--help"], { env: { TRUSTGATE_GRPC_ADDR: "10.1.2.3:4567" } });
      expect(r.stdout).not.toContain("(default: [])");
      expect(r.stdout).not.toContain("10.1.2.3:4567");
    }
    const check = await runCli(["check", "--help"]);
    expect(check.stdout.replace(/\s+/g, " ")).toContain("(default: $TRUSTGATE_GRPC_ADDR, else 127.0.0.1:9191)");
  });

  it("offers exactly the log levels the configuration accepts", async () => {
    const r = await runCli(["serve", "--help"]);
    expect(r.stdout.replace(/\s+/g, " ")).toContain(`(choices: ${LOG_LEVELS.map((l) => `"${l}"`).join(", ")})`);
    const bad = await runCli(["serve", "--log-level", "verbose"]);
    expect(bad.code).toBe(2);
    expect(oneLine(bad)).toBe(
      `trustgate serve: option '--log-level <level>' argument 'verbose' is invalid. Allowed choices are ${LOG_LEVELS.join(", ")} — see \`trustgate serve --help\``,
    );
  });
});
