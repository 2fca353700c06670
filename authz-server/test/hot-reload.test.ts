/**
 * Hot reload against a real server: file changes are picked up, a broken file keeps the last good set (and says
 * where it is broken), and Checks under load never see a mix of two policy sets.
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CheckResponseMessage } from "../src/extauthz/check-response.js";
import { CheckClient } from "../src/grpc/check-client.js";
import { checkRequest } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const allowPath = (name: string, path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: services}
spec:
  rules:
  - to: [{operation: {paths: ["${path}"]}}]
`;

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function field(response: CheckResponseMessage, name: string): string | undefined {
  return response.dynamicMetadata?.fields[name]?.stringValue;
}

const request = (path: string) =>
  checkRequest({ principal: "spiffe://cluster.local/ns/services/sa/order", path, labels: { app: "payment" } });

async function readyz(s: TestServer): Promise<{ policySet: { version: string }; lastReloadError: string | null }> {
  return (await fetch(`${s.httpUrl}/readyz`)).json() as Promise<{
    policySet: { version: string };
    lastReloadError: string | null;
  }>;
}

describe("hot reload", () => {
  it("picks up a changed policy file without a restart", async () => {
    server = await startTestServer({ "p.yaml": allowPath("allow-a", "/a") }, { policies: { watch: true } });
    const s = server;
    const client = new CheckClient(s.grpcAddress);
    try {
      expect((await client.check(request("/b"))).status.code).toBe(7);
      const before = (await readyz(s)).policySet.version;
      await writeFile(join(s.policyDir, "p.yaml"), allowPath("allow-b", "/b"));
      await waitFor(async () => ((await client.check(request("/b"))).status.code === 0 ? true : undefined));
      const after = await readyz(s);
      expect(after.policySet.version).not.toBe(before);
      expect((await client.check(request("/a"))).status.code).toBe(7);
      expect(field(await client.check(request("/b")), "policy_version")).toBe(after.policySet.version);
      expect(s.logs.some((l) => l.event === "policy set active" && String(l.trigger).startsWith("file change"))).toBe(
        true,
      );
    } finally {
      client.close();
    }
  });

  it("keeps the last good set when the new files do not load, and reports where they are broken", async () => {
    server = await startTestServer({ "p.yaml": allowPath("allow-a", "/a") }, { policies: { watch: true } });
    const s = server;
    const client = new CheckClient(s.grpcAddress);
    try {
      const good = (await readyz(s)).policySet.version;
      // A typo that Istio would silently drop: an unknown condition key.
      await writeFile(
        join(s.policyDir, "p.yaml"),
        `${allowPath("allow-a", "/a")}    when: [{key: source.principals, values: [x]}]\n`.replace(
          "  - to:",
          "  - to:",
        ),
      );
      await writeFile(join(s.policyDir, "q.yaml"), "kind: [broken\n");
      const status = await waitFor(async () => {
        const r = await readyz(s);
        return r.lastReloadError?.includes("q.yaml") ? r : undefined;
      });
      expect(status.policySet.version).toBe(good);
      expect(status.lastReloadError).toMatch(
        /\/p\.yaml:7: policy services\/allow-a, rule 0, field spec\.rules\[0\]\.when\[0\]\.key: unknown condition key "source\.principals"/,
      );
      expect(status.lastReloadError).toMatch(/\/q\.yaml:\d+: YAML syntax error/);
      expect((await client.check(request("/a"))).status.code).toBe(0);
      const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/^trustgate_policy_reload_errors_total [1-9]/m);
      const logged = s.logs.findLast((l) => l.event === "policy reload failed");
      expect(logged).toBeDefined();
      expect(logged!.active_version).toBe(good);
      expect((logged!.errors as string[]).join("\n")).toContain("q.yaml:");
    } finally {
      client.close();
    }
  });

  it("never lets a Check see half of one set and half of another under concurrent load", async () => {
    server = await startTestServer({ "p.yaml": allowPath("allow-a", "/a") });
    const s = server;
    const clients = Array.from({ length: 4 }, () => new CheckClient(s.grpcAddress));
    const seen: Array<{ version: string; path: string; allowed: boolean; policy: string }> = [];
    let running = true;
    const load = clients.map(async (client, i) => {
      while (running) {
        const path = i % 2 === 0 ? "/a" : "/b";
        const response = await client.check(request(path));
        seen.push({
          version: field(response, "policy_version")!,
          path,
          allowed: response.status.code === 0,
          policy: field(response, "policy")!,
        });
      }
    });
    try {
      for (let i = 0; i < 20; i++) {
        const [name, path] = i % 2 === 0 ? ["allow-b", "/b"] : ["allow-a", "/a"];
        // Write then rename: the way configuration managers (and Kubernetes ConfigMaps) replace files atomically.
        await writeFile(join(s.policyDir, ".p.yaml.tmp"), allowPath(name, path));
        await rename(join(s.policyDir, ".p.yaml.tmp"), join(s.policyDir, "p.yaml"));
        await s.server.reload("test");
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      running = false;
      await Promise.all(load);
      for (const c of clients) c.close();
    }
    const byVersion = new Map<string, typeof seen>();
    for (const r of seen) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r]);
    expect(byVersion.size).toBeGreaterThanOrEqual(2);
    for (const [version, results] of byVersion) {
      // Within one version, exactly one of /a and /b is allowed, always by that set's own policy.
      const allowedPaths = new Set(results.filter((r) => r.allowed).map((r) => r.path));
      const deniedPaths = new Set(results.filter((r) => !r.allowed).map((r) => r.path));
      expect(
        [...allowedPaths].filter((p) => deniedPaths.has(p)),
        `version ${version}`,
      ).toEqual([]);
      for (const r of results.filter((x) => x.allowed)) expect(r.policy).toBe(`services/allow-${r.path.slice(1)}`);
    }
    expect(seen.length).toBeGreaterThan(100);
  });
});

describe("dry run", () => {
  it("counts and logs a dry-run policy's decision without enforcing it", async () => {
    server = await startTestServer({
      "p.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: new-deny
  namespace: services
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/beta/*"]}}]
`,
    });
    const s = server;
    const client = new CheckClient(s.grpcAddress);
    try {
      const response = await client.check(request("/beta/x"));
      expect(response.status.code).toBe(0);
      expect(field(response, "shadow_decision")).toBe("deny");
      expect(field(response, "shadow_policy")).toBe("services/new-deny");
      const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
      expect(metrics).toContain('trustgate_shadow_decisions_total{policy="services/new-deny",result="deny"} 1');
      const log = s.logs.find(
        (l) => l.event === "decision" && (l.shadow as { policy?: string })?.policy === "services/new-deny",
      );
      expect(log?.decision).toBe("allow");
    } finally {
      client.close();
    }
  });

  it("global dry-run enforces nothing, including identity rejections, and reports what would have happened", async () => {
    server = await startTestServer(
      { "p.yaml": allowPath("allow-a", "/a") },
      { policies: { dryRun: true }, identity: { trustDomains: ["cluster.local"] } },
    );
    const s = server;
    const client = new CheckClient(s.grpcAddress);
    try {
      const denied = await client.check(request("/b"));
      expect(denied.status.code).toBe(0);
      expect(field(denied, "shadow_decision")).toBe("deny");
      const foreign = await client.check(checkRequest({ principal: "spiffe://evil.example/ns/x/sa/y", path: "/a" }));
      expect(foreign.status.code).toBe(0);
      expect(field(foreign, "shadow_policy")).toBe("trustgate/identity");
      expect(await (await fetch(`${s.httpUrl}/readyz`)).json()).toMatchObject({ dryRun: true });
    } finally {
      client.close();
    }
  });
});
