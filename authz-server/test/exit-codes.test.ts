/**
 * The README's exit-code table is exact: for every command, each code it lists is produced by a real run of the
 * real CLI, no other code is, and `--help` lists the same codes. A usage error exits 2 in every command.
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, runCli, type ServeProcess, startServe } from "./support/process.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";
const COMMANDS = ["serve", "check", "health", "policy test", "policy lint", "policy convert", "explain"] as const;
type CommandName = (typeof COMMANDS)[number];

/** command → the exit codes its README row lists ("0 allow · 1 deny · 2 …"). */
function readmeExitCodes(): Map<string, number[]> {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## CLI\n"), readme.indexOf("## Operations\n"));
  const rows = new Map<string, number[]>();
  for (const line of section.split("\n")) {
    const match = /^\| `([a-z]+(?: [a-z]+)?)[ `].*\| ([^|]+) \|$/.exec(line);
    if (!match || match[1] === "command") continue;
    const name = match[1]!.startsWith("policy") ? match[1]! : match[1]!.split(" ")[0]!;
    rows.set(
      name,
      [...match[2]!.matchAll(/(?:^|· )(\d) /g)].map((m) => Number(m[1])),
    );
  }
  return rows;
}

/** The codes a command's `--help` states ("Exit: 0 allow, 1 deny, 2 …"). */
async function helpExitCodes(command: CommandName): Promise<number[]> {
  const r = await runCli([...command.split(" "), "--help"]);
  const text = r.stdout.replace(/\s+/g, " ");
  const exit = text.slice(text.indexOf("Exit:"));
  return [...exit.matchAll(/(?:Exit: |, )(\d) /g)].map((m) => Number(m[1]));
}

let dir: string;
let serve: ServeProcess;
const ADMIN_TOKEN = "admin-token-for-exit-codes";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-exit-"));
  await mkdir(join(dir, "failing"));
  await writeFile(
    join(dir, "failing", "p.yaml"),
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
  );
  await writeFile(
    join(dir, "failing", "p.test.yaml"),
    "cases:\n  - name: POST is allowed\n    request: {destination: {namespace: services}, method: POST}\n    expect: {decision: allow}\n",
  );
  await mkdir(join(dir, "broken"));
  await writeFile(
    join(dir, "broken", "p.yaml"),
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  actoin: DENY\n",
  );
  serve = await startServe(["--policy-dir", "policies"], {
    TRUSTGATE_POLICY_WATCH: "false",
    TRUSTGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
});
afterAll(async () => {
  await serve?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** One real run per code of every command. */
function scenarios(): Record<CommandName, Record<number, () => Promise<number | null>>> {
  const code = async (args: string[], env?: Record<string, string>) => (await runCli(args, { env })).code;
  const toPayment = ["--addr", serve.grpcAddress, "--destination-principal", PAYMENT, "--label", "app=payment"];
  return {
    serve: {
      0: async () => {
        const s = await startServe(["--policy-dir", "policies"], { TRUSTGATE_POLICY_WATCH: "false" });
        return s.stop("SIGTERM");
      },
      1: () =>
        code([
          "serve",
          "--policy-dir",
          join(dir, "broken"),
          "--grpc-addr",
          "127.0.0.1:0",
          "--http-addr",
          "127.0.0.1:0",
        ]),
      2: () => code(["serve", "--log-level", "chatty"]),
    },
    check: {
      0: () => code(["check", ...toPayment, "--path", "/healthz"]),
      1: () => code(["check", ...toPayment, "--principal", ORDER, "--method", "DELETE", "--path", "/api/v1/payment/1"]),
      2: () => code(["check", "--addr", "127.0.0.1:1", "--timeout-ms", "1000"]),
    },
    health: {
      0: () => code(["health", "--addr", serve.grpcAddress]),
      1: () => code(["health", "--addr", serve.grpcAddress, "--service", "no.such.Service"]),
      2: () => code(["health", "--addr", "127.0.0.1:1", "--timeout-ms", "1000"]),
    },
    "policy test": {
      0: () => code(["policy", "test", "policies/ecommerce/payment.test.yaml"]),
      1: () => code(["policy", "test", join(dir, "failing")]),
      2: () => code(["policy", "test", join(dir, "missing")]),
    },
    "policy lint": {
      0: () => code(["policy", "lint", "--policy-dir", "policies"]),
      1: () => code(["policy", "lint", "--policy-dir", join(dir, "broken")]),
      2: () => code(["policy", "lint", "--policy-dir", join(dir, "missing")]),
    },
    "policy convert": {
      0: () => code(["policy", "convert", "policies/ecommerce/payment.yaml"]),
      1: () => code(["policy", "convert", join(dir, "broken")]),
      2: () => code(["policy", "convert", join(dir, "missing")]),
    },
    explain: {
      0: () => code(["explain", "--principal", ORDER, "--destination-principal", PAYMENT, "--path", "/nope"]),
      2: () => code(["explain", "--server", serve.httpUrl], { TRUSTGATE_ADMIN_TOKEN: "wrong" }),
    },
  };
}

describe("exit codes", () => {
  it("the README lists a row for every command", () => {
    expect([...readmeExitCodes().keys()].sort()).toEqual([...COMMANDS].sort());
  });

  for (const command of COMMANDS) {
    it(`${command}: each code in the README happens, as --help says too`, async () => {
      const listed = readmeExitCodes().get(command)!;
      const runs = scenarios()[command];
      expect(Object.keys(runs).map(Number)).toEqual(listed);
      for (const [expected, run] of Object.entries(runs))
        expect(await run(), `${command} → ${expected}`).toBe(Number(expected));
      expect(await helpExitCodes(command)).toEqual(listed);
    }, 60_000);
  }

  it.each(COMMANDS)("%s: a usage error exits 2 with one line naming the flag", async (command) => {
    const r = await runCli([...command.split(" "), "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `trustgate ${command}: unknown option '--no-such-flag' — see \`trustgate ${command} --help\``,
    );
  });

  it("check: the typos of the report exit 2 (never 1, the code for deny), naming the flag", async () => {
    const source = await runCli(["check", "--source", "x"]);
    expect([source.code, source.stderr.trim()]).toEqual([
      2,
      "trustgate check: unknown option '--source' (did you mean --source-ip?) — see `trustgate check --help`",
    ]);
    const port = await runCli(["check", "--port", "abc"]);
    expect([port.code, port.stderr.trim()]).toEqual([
      2,
      "trustgate check: option '--port <port>' argument 'abc' is invalid. expected a whole number — see `trustgate check --help`",
    ]);
    const method = await runCli(["check", "--method"]);
    expect([method.code, method.stderr.trim()]).toEqual([
      2,
      "trustgate check: option '--method <method>' argument missing — see `trustgate check --help`",
    ]);
  });
});
