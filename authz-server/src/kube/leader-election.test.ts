import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../observability/logger.js";
import { type KubeApi, KubeApiError } from "./kube-api.js";
import { LeaderElector, microTime } from "./leader-election.js";

// biome-ignore lint/suspicious/noExplicitAny: a Lease as JSON
type Lease = any;

/** One Lease in memory with the API server's optimistic concurrency (resourceVersion). */
function leaseApi(initial: Lease | null): KubeApi & { lease: Lease | null; writes: number } {
  let rv = 1;
  const api = {
    lease: initial === null ? null : { ...initial, metadata: { ...initial.metadata, resourceVersion: String(rv) } },
    writes: 0,
    async request<T>(method: string, _path: string, options: { body?: unknown } = {}): Promise<T> {
      if (method === "GET") {
        if (api.lease === null) throw new KubeApiError(404, "NotFound", "not found");
        return structuredClone(api.lease) as T;
      }
      const body = options.body as Lease;
      if (method === "POST" && api.lease !== null) throw new KubeApiError(409, "AlreadyExists", "exists");
      if (method === "PUT" && body.metadata.resourceVersion !== api.lease.metadata.resourceVersion)
        throw new KubeApiError(409, "Conflict", "modified");
      rv += 1;
      api.writes += 1;
      api.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(rv) } };
      return structuredClone(api.lease) as T;
    },
  };
  return api;
}

const quiet = createLogger("silent", new Writable({ write: (_c, _e, done) => done() }));

function elector(api: KubeApi, identity: string, clock: { now: number }) {
  return new LeaderElector({
    api,
    namespace: "trustgate-system",
    name: "trustgate-policy-status",
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    logger: quiet,
    now: () => clock.now,
  });
}

// Drives one acquire-or-renew attempt (the timer-driven loop calls the same method).
const attempt = (e: LeaderElector) => (e as unknown as { tick(): Promise<void> }).tick();

describe("Lease leader election", () => {
  it("creates a missing Lease and holds it", async () => {
    const api = leaseApi(null);
    const clock = { now: Date.parse("2026-03-01T10:00:00Z") };
    const a = elector(api, "a", clock);
    await attempt(a);
    expect(a.isLeader).toBe(true);
    expect(api.lease.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
      renewTime: "2026-03-01T10:00:00.000000Z",
    });
    await a.stop();
  });

  it("judges expiry by its own clock since it saw the Lease change, never by the holder's renewTime", async () => {
    // The holder's clock is far behind ours: its renewTime looks an hour old. It must still not be taken.
    const clock = { now: Date.parse("2026-03-01T10:00:00Z") };
    const api = leaseApi({
      metadata: { name: "trustgate-policy-status", namespace: "trustgate-system" },
      spec: { holderIdentity: "b", leaseDurationSeconds: 15, renewTime: microTime(clock.now - 3_600_000) },
    });
    const a = elector(api, "a", clock);
    await attempt(a);
    expect(a.isLeader).toBe(false);
    clock.now += 14_000;
    await attempt(a);
    expect(a.isLeader).toBe(false);
    // b renews (the record changes): the 15 s start again from now.
    api.lease.spec = { ...api.lease.spec, renewTime: microTime(clock.now - 3_600_000 + 1) };
    clock.now += 2_000;
    await attempt(a);
    clock.now += 14_000;
    await attempt(a);
    expect(a.isLeader).toBe(false);
    // b stops renewing: 15 s after a last saw a change, a takes over and counts a transition.
    clock.now += 2_000;
    await attempt(a);
    expect(a.isLeader).toBe(true);
    expect(api.lease.spec).toMatchObject({ holderIdentity: "a", leaseTransitions: 1 });
    await a.stop();
  });

  it("steps down when another holds the Lease, and after renewDeadline without a renewal", async () => {
    const clock = { now: Date.parse("2026-03-01T10:00:00Z") };
    const api = leaseApi(null);
    const a = elector(api, "a", clock);
    await attempt(a);
    expect(a.isLeader).toBe(true);
    // Someone else wrote the Lease (a took too long): a must stop at once.
    api.lease.spec = { ...api.lease.spec, holderIdentity: "b", renewTime: microTime(clock.now) };
    api.lease.metadata.resourceVersion = "99";
    clock.now += 2_000;
    await attempt(a);
    expect(a.isLeader).toBe(false);

    const api2 = leaseApi(null);
    const c = elector(api2, "c", clock);
    await attempt(c);
    expect(c.isLeader).toBe(true);
    const failing = api2.request.bind(api2);
    api2.request = async () => {
      throw new Error("connection refused");
    };
    clock.now += 9_000;
    await attempt(c);
    expect(c.isLeader).toBe(true); // within renewDeadline
    clock.now += 1_000;
    await attempt(c);
    expect(c.isLeader).toBe(false);
    api2.request = failing;
    await a.stop();
    await c.stop();
  });

  it("releases the Lease on stop so another replica can take it at once", async () => {
    const clock = { now: Date.parse("2026-03-01T10:00:00Z") };
    const api = leaseApi(null);
    const a = elector(api, "a", clock);
    await attempt(a);
    await a.stop();
    expect(api.lease.spec.holderIdentity).toBe("");
    const b = elector(api, "b", clock);
    await attempt(b);
    expect(b.isLeader).toBe(true);
    await b.stop();
  });

  it("two candidates racing for a free Lease: one wins (optimistic concurrency)", async () => {
    const clock = { now: Date.parse("2026-03-01T10:00:00Z") };
    const api = leaseApi(null);
    const a = elector(api, "a", clock);
    const b = elector(api, "b", clock);
    await Promise.all([attempt(a), attempt(b)]);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    await a.stop();
    await b.stop();
  });
});
