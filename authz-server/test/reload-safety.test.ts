/**
 * Policy reloads that must never open a hole, against a real server watching real directories: a YAML alias bomb, a
 * policy file written in two steps, a truncated file, and the ways deployments replace policy directories (renamed
 * directories, git-sync's symlink swap, a Kubernetes ConfigMap's `..data` swap). The swap tests turn polling off
 * (one poll an hour) so they prove the file events are followed.
 */
import { appendFile, mkdir, mkdtemp, readlink, rename, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { runCli } from "./support/process.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const header = (name: string, action = "ALLOW") => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: services}
spec:
  action: ${action}
`;
const allowAll = `${header("allow-all")}  rules: [{}]\n`;
const denyAdmin = `${header("deny-admin", "DENY")}  rules:\n  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]\n`;
const allowOnly = (name: string, path: string) =>
  `${header(name)}  rules:\n  - to: [{operation: {paths: ["${path}"]}}]\n`;

/** Nine levels of ten aliases: a few hundred bytes that expand to 10^9 nodes. */
function aliasBomb(): string {
  let text = `${header("bomb")}  rules: []\nx:\n  a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n`;
  for (let i = 1; i < 9; i++) text += `  a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]\n`;
  return text;
}

let server: TestServer | null = null;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await server?.stop();
  server = null;
  for (const c of cleanups.splice(0)) await c();
});

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Readyz {
  policySet: { version: string; policies: number };
  lastReloadError: string | null;
  policyWatcher: { state: string; error: string | null } | null;
}

async function readyz(s: TestServer): Promise<Readyz> {
  return (await fetch(`${s.httpUrl}/readyz`)).json() as Promise<Readyz>;
}

const request = (path: string) =>
  checkRequest({ principal: "spiffe://cluster.local/ns/services/sa/order", path, labels: { app: "payment" } });

async function allowed(client: CheckClient, path: string): Promise<boolean> {
  return (await client.check(request(path))).status.code === 0;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "trustgate-reload-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("YAML limits on reload and at start-up", () => {
  it("keeps the last good set when a policy file is an alias bomb, and names the file and line", async () => {
    server = await startTestServer({ "allow.yaml": allowOnly("allow-a", "/a") });
    const s = server;
    const good = (await readyz(s)).policySet.version;
    await writeFile(join(s.policyDir, "bomb.yaml"), aliasBomb());
    // Before: the yaml library's ReferenceError escaped the reload and took the process down.
    expect(await s.server.reload("test")).toBeNull();
    const status = await readyz(s);
    expect(status.policySet.version).toBe(good);
    expect(status.lastReloadError).toMatch(/bomb\.yaml:\d+: aliases expand to more than 100000 nodes/);
    const client = new CheckClient(s.grpcAddress);
    try {
      expect(await allowed(client, "/a")).toBe(true);
    } finally {
      client.close();
    }
  });

  it("refuses a policy file over yaml.maxFileBytes before reading it", async () => {
    server = await startTestServer({ "allow.yaml": allowOnly("allow-a", "/a") }, { yaml: { maxFileBytes: 2048 } });
    const s = server;
    await writeFile(join(s.policyDir, "big.yaml"), `${allowOnly("big", "/b")}# ${"x".repeat(4096)}\n`);
    expect(await s.server.reload("test")).toBeNull();
    expect((await readyz(s)).lastReloadError).toMatch(
      /big\.yaml:1: file is \d+ bytes, more than the limit of 2048 \(yaml\.maxFileBytes\)/,
    );
  });

  it("`trustgate serve` with an alias bomb exits non-zero at once, naming the file and line", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "bomb.yaml"), aliasBomb());
    const run = await runCli(["serve", "--policy-dir", dir], {
      env: { TRUSTGATE_GRPC_ADDR: "127.0.0.1:0", TRUSTGATE_HTTP_ADDR: "127.0.0.1:0" },
    });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toMatch(/bomb\.yaml:\d+: aliases expand to more than 100000 nodes/);
  });
});

describe("files still being written", () => {
  // The pause between the two writes: the 0.3 s of the original report, and one long enough that the old watcher
  // (100 ms stability + 200 ms debounce) reliably loaded the first half.
  it.each([300, 700])(
    "never installs the first half of a DENY policy written in two steps %i ms apart",
    async (pauseMs) => {
      server = await startTestServer(
        { "allow.yaml": allowAll, "deny.yaml": denyAdmin },
        { policies: { watch: true, watchStabilityMs: 1000 } },
      );
      const s = server;
      const client = new CheckClient(s.grpcAddress);
      const leaks: string[] = [];
      let probing = true;
      const probe = (async () => {
        while (probing) if (await allowed(client, "/admin/users")) leaks.push(new Date().toISOString());
      })();
      try {
        const versions = new Set([(await readyz(s)).policySet.version]);
        // `cat > deny.yaml` by hand: truncate, write up to before `rules:`, pause, write the rest.
        const cut = denyAdmin.indexOf("  rules:");
        await writeFile(join(s.policyDir, "deny.yaml"), `# edited\n${denyAdmin.slice(0, cut)}`);
        await new Promise((r) => setTimeout(r, pauseMs));
        await appendFile(join(s.policyDir, "deny.yaml"), denyAdmin.slice(cut));
        await waitFor(async () => {
          const v = (await readyz(s)).policySet.version;
          versions.add(v);
          return versions.size > 1 ? true : undefined;
        });
        await new Promise((r) => setTimeout(r, 500));
        probing = false;
        await probe;
        expect(leaks).toEqual([]);
        expect(await allowed(client, "/admin/users")).toBe(false);
        expect(await allowed(client, "/api")).toBe(true);
        expect(s.logs.filter((l) => l.event === "deny policies weakened")).toEqual([]);
      } finally {
        probing = false;
        await probe;
        client.close();
      }
    },
  );

  it("logs at warn and counts a reload that removes a DENY policy (a truncated file)", async () => {
    server = await startTestServer(
      { "allow.yaml": allowAll, "deny.yaml": denyAdmin },
      { policies: { watch: true, watchStabilityMs: 200 } },
    );
    const s = server;
    await truncate(join(s.policyDir, "deny.yaml"), 0);
    const warned = await waitFor(() => s.logs.find((l) => l.event === "deny policies weakened"));
    expect(warned.level).toBe("warn");
    expect(warned.changes).toEqual([{ policy: "services/deny-admin", change: "removed" }]);
    expect(String(warned.msg)).toMatch(/takes DENY protection away: services\/deny-admin removed/);
    const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^trustgate_policy_deny_weakened_total\{change="removed"\} 1$/m);
  });
});

describe("directories replaced under the watcher", () => {
  const watchOnEvents = { watch: true, watchStabilityMs: 200, watchPollSeconds: 3600 };

  async function expectPolicy(client: CheckClient, path: string): Promise<void> {
    await waitFor(async () => ((await allowed(client, path)) ? true : undefined));
  }

  it("follows a policy directory renamed away and replaced, swap after swap", async () => {
    const root = await tempDir();
    const dir = join(root, "pol");
    await mkdir(dir);
    await writeFile(join(dir, "p.yaml"), allowOnly("allow", "/v0"));
    server = await startTestServer({}, { policies: { ...watchOnEvents, dir } });
    const client = new CheckClient(server.grpcAddress);
    try {
      for (const [n, version] of ["/v1", "/v2", "/v3"].entries()) {
        await mkdir(join(root, "pol.new"));
        await writeFile(join(root, "pol.new", "p.yaml"), allowOnly("allow", version));
        // The old directory stays (renamed): nothing happens inside the directory the watcher first saw.
        await rename(dir, join(root, `pol.old${n}`));
        await rename(join(root, "pol.new"), dir);
        await expectPolicy(client, version);
      }
    } finally {
      client.close();
    }
  });

  it("follows a symlink swapped the git-sync way (ln -s rev tmp && mv -T tmp link)", async () => {
    const root = await tempDir();
    await mkdir(join(root, "rev0"));
    await writeFile(join(root, "rev0", "p.yaml"), allowOnly("allow", "/v0"));
    await symlink("rev0", join(root, "link"));
    server = await startTestServer({}, { policies: { ...watchOnEvents, dir: join(root, "link") } });
    const client = new CheckClient(server.grpcAddress);
    try {
      for (const n of [1, 2, 3]) {
        await mkdir(join(root, `rev${n}`));
        await writeFile(join(root, `rev${n}`, "p.yaml"), allowOnly("allow", `/v${n}`));
        await symlink(`rev${n}`, join(root, "tmp"));
        await rename(join(root, "tmp"), join(root, "link")); // mv -T: one atomic rename over the old link
        // The old revision stays on disk: only the link changed.
        expect(await readlink(join(root, "link"))).toBe(`rev${n}`);
        await expectPolicy(client, `/v${n}`);
      }
    } finally {
      client.close();
    }
  });

  it("follows a Kubernetes ConfigMap volume update (the kubelet's ..data symlink swap)", async () => {
    const dir = await tempDir();
    // The kubelet's layout: a timestamped directory with the data, `..data` → it, and each key a symlink through
    // `..data`. An update writes a new timestamped directory, swaps `..data` with one rename, then removes the old.
    const publish = async (n: number, files: Record<string, string>) => {
      const stamp = `..2026_01_01_00_00_0${n}.${1000 + n}`;
      await mkdir(join(dir, stamp));
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, stamp, name), text);
      const previous = n > 0 ? await readlink(join(dir, "..data")) : null;
      await symlink(stamp, join(dir, "..data_tmp"));
      await rename(join(dir, "..data_tmp"), join(dir, "..data"));
      for (const name of Object.keys(files)) {
        await symlink(join("..data", name), join(dir, name)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST") throw err;
        });
      }
      if (previous) await rm(join(dir, previous), { recursive: true });
    };
    await publish(0, { "p.yaml": allowOnly("allow", "/v0") });
    server = await startTestServer({}, { policies: { ...watchOnEvents, dir } });
    const client = new CheckClient(server.grpcAddress);
    try {
      await publish(1, { "p.yaml": allowOnly("allow", "/v1") });
      await expectPolicy(client, "/v1");
      await publish(2, { "p.yaml": allowOnly("allow", "/v2"), "q.yaml": allowOnly("allow-q", "/q") });
      await expectPolicy(client, "/q");
      expect(await allowed(client, "/v2")).toBe(true);
      expect(await allowed(client, "/v1")).toBe(false);
    } finally {
      client.close();
    }
  });

  it("/readyz and a metric show a watcher that can no longer read its directory; it recovers when it returns", async () => {
    const root = await tempDir();
    const dir = join(root, "pol");
    await mkdir(dir);
    await writeFile(join(dir, "p.yaml"), allowOnly("allow", "/v0"));
    server = await startTestServer({}, { policies: { ...watchOnEvents, dir } });
    const s = server;
    expect((await readyz(s)).policyWatcher).toMatchObject({ state: "watching", error: null });
    const version = (await readyz(s)).policySet.version;
    await rm(dir, { recursive: true });
    const failed = await waitFor(async () => {
      const r = await readyz(s);
      return r.policyWatcher?.state === "failed" ? r : undefined;
    });
    expect(failed.policyWatcher!.error).toMatch(/pol: ENOENT/);
    expect(failed.policySet.version).toBe(version); // the last good set stays in force
    expect(await (await fetch(`${s.httpUrl}/metrics`)).text()).toMatch(/^trustgate_policy_watcher_up 0$/m);
    await mkdir(dir);
    await writeFile(join(dir, "p.yaml"), allowOnly("allow", "/v1"));
    const client = new CheckClient(s.grpcAddress);
    try {
      await expectPolicy(client, "/v1");
      expect((await readyz(s)).policyWatcher).toMatchObject({ state: "watching", error: null });
      expect(await (await fetch(`${s.httpUrl}/metrics`)).text()).toMatch(/^trustgate_policy_watcher_up 1$/m);
    } finally {
      client.close();
    }
  });
});
