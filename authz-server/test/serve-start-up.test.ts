/**
 * `trustgate serve` as a new user meets it, as a real process: start-up failures exit at once with one line that
 * says what to do, empty or missing policy directories are named, the pid is logged, `npm start` attributes Falco
 * alerts, every reload is logged and counted, configuration errors name what the user typed, and SIGTERM exits as
 * soon as the work in flight is done.
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckClient } from "../src/grpc/check-client.js";
import { at, falcoJson, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { checkRequest } from "./support/fixtures.js";
import { watchHealth } from "./support/health-watch.js";
import { REPO, runCli, type ServeProcess, startServe } from "./support/process.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-serve-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function occupy(): Promise<{ server: Server; address: string }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, address: `127.0.0.1:${(server.address() as { port: number }).port}` }),
    );
  });
}

/** Log lines are written asynchronously: wait (bounded) until `text` shows up in the server's stdout. */
async function logged(serve: ServeProcess, text: string): Promise<string> {
  const deadline = Date.now() + 5000;
  while (!serve.output.stdout.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return serve.output.stdout;
}

const release = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The one line a start-up failure prints, and how fast the process was gone after it. */
function startUpFailure(r: Awaited<ReturnType<typeof runCli>>): string {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  // Generous for a loaded 2-core machine; before the fix the process never exited at all.
  expect(r.msAfterStderr).toBeLessThan(2000);
  expect(r.stderr).not.toContain("No address added");
  return lines[0]!;
}

describe("serve: start-up failures exit at once with one actionable line", () => {
  // The policy watcher is on (the default), as in the report: it used to keep the failed process alive.
  it("the gRPC port is taken", async () => {
    const busy = await occupy();
    try {
      const r = await runCli(["serve", "--grpc-addr", busy.address, "--http-addr", "127.0.0.1:0"]);
      expect(startUpFailure(r)).toBe(
        `trustgate serve: cannot listen for gRPC on ${busy.address}: address already in use — is another trustgate (or another program) listening there? Stop it, or choose another address with --grpc-addr (or TRUSTGATE_GRPC_ADDR, grpc.addr)`,
      );
      expect(r.stdout).toContain('"event":"start-up failed"');
    } finally {
      await release(busy.server);
    }
  });

  it("a unix socket path that is taken or in a missing directory: advice about the file, not a port", async () => {
    const socket = join(dir, "grpc.sock");
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(socket, resolve));
    try {
      for (const [flag, what] of [
        ["--grpc-addr", "gRPC"],
        ["--http-addr", "admin HTTP"],
      ] as const) {
        const args = flag === "--grpc-addr" ? ["--http-addr", "127.0.0.1:0"] : ["--grpc-addr", "127.0.0.1:0"];
        const r = await runCli(["serve", flag, `unix:${socket}`, ...args]);
        const line = startUpFailure(r);
        expect(line).toContain(`cannot listen for ${what} on unix:${socket}: the socket file exists`);
        expect(line).not.toContain("port");
      }
      const r = await runCli([
        "serve",
        "--grpc-addr",
        `unix:${join(dir, "none", "g.sock")}`,
        "--http-addr",
        "127.0.0.1:0",
      ]);
      expect(startUpFailure(r)).toContain("the socket's directory does not exist or this process may not write there");
    } finally {
      await release(busy);
    }
  });

  it("the admin HTTP port is taken", async () => {
    const busy = await occupy();
    try {
      const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", busy.address]);
      expect(startUpFailure(r)).toMatch(
        new RegExp(
          `^trustgate serve: cannot listen for admin HTTP on ${busy.address}: address already in use — .* --http-addr \\(or TRUSTGATE_HTTP_ADDR, http\\.addr\\)$`,
        ),
      );
    } finally {
      await release(busy.server);
    }
  });

  it("both listeners were given the same port", async () => {
    const spare = await occupy();
    const address = spare.address;
    await release(spare.server);
    const r = await runCli(["serve", "--grpc-addr", address, "--http-addr", address]);
    expect(startUpFailure(r)).toBe(
      `trustgate serve: cannot listen for admin HTTP on ${address}: the gRPC listener already uses port ${address.split(":")[1]} — give --http-addr and --grpc-addr different ports`,
    );
  });

  it("an address that is not one: a configuration error (exit 2) naming the flag", async () => {
    const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "localhost"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      'trustgate serve: invalid configuration: --http-addr "localhost" (http.addr): expected host:port (e.g. 127.0.0.1:9191 or [::1]:9191) or unix:/path',
    );
  });
});

describe("serve: state files", () => {
  it("a revocations or risk snapshot file in a missing directory stops the start, naming the key", async () => {
    for (const [name, key] of [
      ["TRUSTGATE_REVOCATIONS_FILE", "revocations.file"],
      ["TRUSTGATE_RISK_SNAPSHOT_FILE", "risk.snapshotFile"],
    ] as const) {
      const file = join(dir, "no-such-dir", "state.json");
      const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"], {
        env: { [name]: file },
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        `${key} ${file}: the directory ${join(dir, "no-such-dir")} does not exist; create it or point ${key} elsewhere`,
      );
    }
  });
});

describe("serve: policy directories", () => {
  it("a missing directory is named absolutely, as relative to the current directory, with --policy-dir", async () => {
    const cwd = join(dir, "no-policies-here");
    await mkdir(cwd);
    const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${join(cwd, "policies")}: no such policy file or directory ("policies" is relative to the current directory, ${cwd}): give the directory of your AuthorizationPolicy files with --policy-dir (or TRUSTGATE_POLICY_DIR)`,
    );
    expect(r.stderr).not.toContain("ENOENT");
    expect(r.stderr).not.toContain(":0:");
  });

  it("a missing extra directory is named as one (policies.extraDirs), not as --policy-dir", async () => {
    const missing = join(dir, "no-overlay");
    const r = await runCli(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"], {
      env: { TRUSTGATE_POLICY_EXTRA_DIRS: missing },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${missing}: no such policy file or directory: fix or remove it in policies.extraDirs (or TRUSTGATE_POLICY_EXTRA_DIRS, or the second and later --policy-dir)`,
    );
  });

  it("an empty directory starts (Istio allows everything then) but says so at start-up", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    const serve = await startServe(["--policy-dir", empty], { TRUSTGATE_POLICY_WATCH: "false" });
    try {
      const text = `"msg":"0 policies loaded from ${empty}: every request is allowed`;
      expect(await logged(serve, text)).toContain(text);
    } finally {
      await serve.stop();
    }
  });
});

describe("serve: --policy-dir", () => {
  const policy = (name: string) =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: services}\nspec:\n  rules:\n  - {}\n`;

  it("the first sets policies.dir and keeps the configured extra directories; more replace them", async () => {
    const [a, b, c] = ["a", "b", "c"].map((n) => join(dir, `dirs-${n}`));
    for (const [d, n] of [
      [a, "pa"],
      [b, "pb"],
      [c, "pc"],
    ] as const) {
      await mkdir(d!);
      await writeFile(join(d!, "p.yaml"), policy(n));
    }
    const env = { TRUSTGATE_POLICY_WATCH: "false", TRUSTGATE_POLICY_EXTRA_DIRS: b! };
    const one = await startServe(["--policy-dir", a!], env);
    await one.stop();
    expect(one.output.stdout).toContain("active (2 policies)");
    const two = await startServe(["--policy-dir", a!, "--policy-dir", c!], env);
    await two.stop();
    expect(two.output.stdout).toContain("active (2 policies)");
    const set = JSON.parse(two.output.stdout.split("\n").find((l) => l.includes('"policy set active"'))!);
    expect(set.policies).toBe(2);
  });
});

describe("serve: what a running server tells its operator", () => {
  it("logs its pid, warns when the Falco static mapping has no workloads, and counts an unchanged reload", async () => {
    const serve = await startServe(["--policy-dir", "policies"], { TRUSTGATE_POLICY_WATCH: "false" });
    try {
      await logged(serve, "the Falco static mapping has no workloads");
      // The very first line names the process, before anything can go wrong.
      const first = JSON.parse(serve.output.stdout.split("\n")[0]!);
      expect(first).toMatchObject({ event: "starting", pid: serve.child.pid, node: process.version });
      const serving = JSON.parse(serve.output.stdout.split("\n").find((l) => l.includes('"trustgate serving"'))!);
      expect(serving.pid).toBe(serve.child.pid);
      expect(serving.msg).toContain(`trustgate serving (pid ${serve.child.pid})`);
      expect(serve.output.stdout).toContain("the Falco static mapping has no workloads");
      expect(serve.output.stdout).toContain("set TRUSTGATE_WORKLOADS_FILE");

      const metrics = async () => (await fetch(`${serve.httpUrl}/metrics`)).text();
      expect(await metrics()).not.toContain('trustgate_policy_reloads_total{result="unchanged"}');
      serve.child.kill("SIGHUP");
      await logged(serve, '"result":"unchanged"');
      const line = JSON.parse(serve.output.stdout.split("\n").find((l) => l.includes('"result":"unchanged"'))!);
      expect(line).toMatchObject({ event: "policy reload", trigger: "SIGHUP", version: serving.policy_version });
      expect(line.msg).toBe(`policy reload (SIGHUP): unchanged, policy set ${serving.policy_version} stays active`);
      expect(await metrics()).toContain('trustgate_policy_reloads_total{result="unchanged"} 1');
    } finally {
      await serve.stop();
    }
  });

  it("`npm start` loads the example workload inventory, so a Falco alert about container order is attributed", async () => {
    const scripts = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).scripts as Record<string, string>;
    const args = scripts.start!.split(" ");
    expect(args.slice(0, 3)).toEqual(["node", "authz-server/bin/trustgate.js", "serve"]);
    const serve = await startServe(args.slice(3), { TRUSTGATE_POLICY_WATCH: "false", TRUSTGATE_FALCO_TOKEN: "t0k3n" });
    try {
      expect(serve.output.stdout).not.toContain("the Falco static mapping has no workloads");
      const response = await fetch(`${serve.httpUrl}/v1/falco`, {
        method: "POST",
        headers: { authorization: "Bearer t0k3n", "content-type": "application/json" },
        body: falcoJson(at(SHELL_IN_ORDER, new Date().toISOString())),
      });
      expect(await response.json()).toMatchObject({
        accepted: 1,
        mapped: 1,
        unattributed: 0,
        identities: ["spiffe://cluster.local/ns/services/sa/order"],
      });
    } finally {
      await serve.stop();
    }
  });

  it("SIGTERM exits as soon as the work in flight is done, with keep-alive clients and a health watch open", async () => {
    const serve = await startServe(["--policy-dir", "policies"]);
    const agent = new Agent({ keepAlive: true });
    const client = new CheckClient(serve.grpcAddress);
    try {
      // An idle keep-alive HTTP connection, an idle gRPC channel, and a health Watch stream (it never ends itself).
      await new Promise<void>((resolve, reject) => {
        request(`${serve.httpUrl}/healthz`, { agent }, (res) => res.resume().on("end", resolve))
          .on("error", reject)
          .end();
      });
      await client.check(checkRequest({ principal: "spiffe://cluster.local/ns/services/sa/order" }));
      const watch = watchHealth(serve.grpcAddress);
      await watch.first;
      const sent = Date.now();
      const code = await serve.stop("SIGTERM");
      const ms = Date.now() - sent;
      expect(code).toBe(0);
      // Was ~10 s (the whole shutdown grace) with a Watch stream open.
      expect(ms).toBeLessThan(3000);
      expect(await watch.statuses).toContain("NOT_SERVING");
      expect(serve.output.stdout).not.toContain("forcing shutdown");
    } finally {
      agent.destroy();
      client.close();
      await serve.stop();
    }
  });
});

describe("serve: configuration errors name what the user typed", () => {
  it("an environment variable, with its value", async () => {
    const r = await runCli(["serve"], { env: { TRUSTGATE_RISK_HALF_LIFE_SECONDS: "-5" } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'trustgate serve: invalid configuration: TRUSTGATE_RISK_HALF_LIFE_SECONDS="-5" (risk.halfLifeSeconds): Too small: expected number to be >0',
    );
  });

  it("a flag, with its value", async () => {
    const r = await runCli(["serve", "--grpc-addr", ""]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--grpc-addr "" (grpc.addr): Too small');
  });

  it("an unknown key in the config file, with the closest known one", async () => {
    const file = join(dir, "typo.yaml");
    await writeFile(file, "policies:\n  dryrun: true\n");
    const r = await runCli(["serve", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: policies: Unrecognized key: "dryrun" (did you mean "dryRun"?)`);
  });
});
