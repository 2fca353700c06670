/**
 * Status on TrustgatePolicy objects with two trustgate replicas against one fake API server, each with its own
 * credentials so the server can tell who wrote what: only the replica holding the Lease writes status, only when
 * it changes; when the leader goes (cleanly, or silently) the other takes over, and there is never a moment with
 * two leaders.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubeApiServer, type RequestRecord, startKubeApiServer } from "../../test/support/kube-api-server.js";
import { allowPath, condition, kubeConfig, type Obj, tgp, waitFor } from "./support/kube-policies.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let api: KubeApiServer;
const servers: TestServer[] = [];

beforeEach(async () => {
  api = await startKubeApiServer({ users: { "replica-a": "token-a", "replica-b": "token-b" } });
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop().catch(() => {});
  await api.stop();
});

const LEASE = { lease: "trustgate-system", name: "trustgate-policy-status" };

async function replica(user: string, status: Obj = {}): Promise<TestServer> {
  const s = await startTestServer(
    {},
    kubeConfig(await api.kubeconfigFor(user), { podLabels: false, status: { identity: user, ...status } }),
  );
  servers.push(s);
  return s;
}

function statusWrites(): RequestRecord[] {
  return api.log.filter((r) => r.method === "PATCH" && r.url.endsWith("/status"));
}

function holder(): string | undefined {
  return api.get("leases", LEASE.lease, LEASE.name)?.spec?.holderIdentity || undefined;
}

function accepted(name: string): Obj | undefined {
  return condition(api.get("trustgatepolicies", "services", name), "Accepted");
}

describe("TrustgatePolicy status with two replicas", () => {
  it("only the Lease holder writes status, once per change; the other takes over when it stops", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    api.create(
      "trustgatepolicies",
      tgp("services", "broken", { rules: [{ to: [{ operation: { ports: ["99999"] } }] }] }),
    );
    const a = await replica("replica-a");
    const b = await replica("replica-b");
    const leaderName = await waitFor(holder, "a leader");
    const [leader, follower] = leaderName === "replica-a" ? [a, b] : [b, a];
    const followerName = leaderName === "replica-a" ? "replica-b" : "replica-a";

    const ok = await waitFor(() => accepted("allow-a"), "status of allow-a");
    expect(ok).toMatchObject({ status: "True", reason: "Accepted", observedGeneration: 1 });
    expect(condition(api.get("trustgatepolicies", "services", "allow-a"), "Warnings")).toMatchObject({
      status: "False",
      reason: "NoWarnings",
    });
    const bad = await waitFor(() => accepted("broken"), "status of broken");
    expect(bad).toMatchObject({ status: "False", reason: "Invalid" });
    expect(bad.message).toContain('field spec.rules[0].to[0].operation.ports[0]: "99999" is not a port number');

    // Let both replicas settle, then count: one write per object, all from the leader.
    await leader.server.kubernetes.status!.idle();
    await follower.server.kubernetes.status!.idle();
    await new Promise((r) => setTimeout(r, 500));
    expect(statusWrites().map((w) => w.user)).toEqual([leaderName, leaderName]);
    expect(statusWrites().every((w) => w.contentType.startsWith("application/merge-patch+json"))).toBe(true);
    expect(follower.server.kubernetes.status!.stats.writes).toBe(0);
    expect(follower.server.kubernetes.elector!.isLeader).toBe(false);

    // A new generation gets one more write; a change that does not alter the status (an annotation-free
    // no-op update, a file reload) gets none.
    api.update("trustgatepolicies", allowPath("allow-a", "/b"));
    await waitFor(() => (accepted("allow-a")?.observedGeneration === 2 ? true : undefined), "generation 2 status");
    const lastTransition = accepted("allow-a")!.lastTransitionTime;
    await leader.server.reload("test: SIGHUP");
    await follower.server.reload("test: SIGHUP");
    await leader.server.kubernetes.status!.idle();
    await new Promise((r) => setTimeout(r, 500));
    expect(statusWrites().map((w) => w.user)).toEqual([leaderName, leaderName, leaderName]);
    expect(accepted("allow-a")!.lastTransitionTime).toBe(lastTransition); // status stayed True

    // The leader stops (and releases the Lease): the other replica takes over and writes.
    await leader.stop();
    servers.splice(servers.indexOf(leader), 1);
    await waitFor(() => (holder() === followerName ? true : undefined), "the takeover", 10_000);
    api.create("trustgatepolicies", allowPath("allow-c", "/c"));
    await waitFor(() => (accepted("allow-c")?.status === "True" ? true : undefined), "status of allow-c");
    const writes = statusWrites();
    expect(writes.at(-1)!.user).toBe(followerName);
    expect(writes.filter((w) => w.user === followerName)).toHaveLength(1);
    expect(follower.logs.some((l) => l.event === "leader elected")).toBe(true);
  });

  it("a leader that cannot renew stops writing before another takes over: never two leaders", async () => {
    api.create("trustgatepolicies", allowPath("allow-a", "/a"));
    const timing = { leaseDurationSeconds: 3, renewDeadlineSeconds: 1, retryPeriodSeconds: 0.2 };
    const a = await replica("replica-a", timing);
    await waitFor(() => (a.server.kubernetes.elector!.isLeader ? true : undefined), "replica-a leading");
    const b = await replica("replica-b", timing);
    const electors = [a.server.kubernetes.elector!, b.server.kubernetes.elector!];

    let overlap = 0;
    const sampler = setInterval(() => {
      if (electors.every((e) => e.isLeader)) overlap += 1;
    }, 5);
    try {
      // replica-a loses the API server (its Lease requests fail); it keeps serving Checks.
      api.failWhen((_m, url, user) => user === "replica-a" && url.pathname.includes("/leases/"));
      await waitFor(() => (!electors[0]!.isLeader ? true : undefined), "replica-a stepping down", 5_000);
      await waitFor(() => (electors[1]!.isLeader ? true : undefined), "replica-b taking over", 10_000);
      api.create("trustgatepolicies", allowPath("allow-b", "/b"));
      await waitFor(() => (accepted("allow-b")?.status === "True" ? true : undefined), "status of allow-b");
    } finally {
      clearInterval(sampler);
      api.failWhen(null);
    }
    expect(overlap).toBe(0);
    expect(
      statusWrites()
        .filter((w) => w.url.includes("allow-b"))
        .map((w) => w.user),
    ).toEqual(["replica-b"]);
    expect(a.logs.some((l) => l.event === "leadership lost")).toBe(true);
  });
});
