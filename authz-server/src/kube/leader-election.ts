/**
 * Leader election with a `coordination.k8s.io/v1` Lease, the way Kubernetes controllers do it (client-go's
 * leaderelection): a candidate takes the Lease when it is free or its holder has not renewed it for
 * `leaseDuration`, renews it every `retryPeriod`, and stops acting as leader when it could not renew for
 * `renewDeadline`. Expiry is judged by this process's own clock from the moment it last saw the Lease change (never
 * by comparing its clock with the holder's renewTime), so clock skew between nodes cannot make two leaders.
 * Updates carry the resourceVersion read, so two candidates racing for the same Lease cannot both win.
 * On stop, a leader releases the Lease (empty holder) so another replica takes over at once.
 */
import type { Logger } from "../observability/logger.js";
import { type KubeApi, KubeApiError } from "./kube-api.js";

export interface LeaderElectionOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process: pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  readonly onLeadershipChange?: (leader: boolean) => void;
  readonly now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: LeaseSpec;
}

/** held: we hold the Lease now; taken: another replica does; failed: could not tell (API error, write race). */
type Attempt = "held" | "taken" | "failed";

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leader = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  /** What we last saw of the Lease, and when (by our clock). */
  private observed: { record: string; atMs: number } | null = null;
  private lastRenewMs = 0;
  private failing = false;
  readonly stats = { acquired: 0, lost: 0, renewals: 0, failures: 0 };

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leader;
  }

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private get path(): string {
    const { namespace, name } = this.options;
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`;
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.options.namespace)}/leases`;
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.leader) {
      this.setLeader(false, "stopping");
      await this.release().catch((err: Error) =>
        this.options.logger.warn({ event: "lease release failed", error: err.message }, "could not release the Lease"),
      );
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = null;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let outcome: Attempt = "failed";
    try {
      outcome = await this.tryAcquireOrRenew();
    } catch (err) {
      this.stats.failures += 1;
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn(
          {
            event: "lease attempt failed",
            lease: `${this.options.namespace}/${this.options.name}`,
            error: (err as Error).message,
          },
          "cannot read or write the Lease; no replica writes TrustgatePolicy status until one can (retrying)",
        );
      }
    }
    if (outcome !== "failed" && this.failing) {
      this.failing = false;
      this.options.logger.info({ event: "lease reachable" }, "the Lease can be read and written again");
    }
    if (this.stopped) return;
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    if (outcome === "held") {
      this.lastRenewMs = this.now;
      this.stats.renewals += 1;
      if (!this.leader) this.setLeader(true, "acquired the Lease");
    } else if (outcome === "taken") {
      this.setLeader(false, "another replica holds the Lease");
    } else if (this.leader && this.now - this.lastRenewMs >= renewDeadlineMs) {
      this.setLeader(false, `could not renew the Lease for ${renewDeadlineMs} ms`);
    }
    // Candidates retry with jitter so they do not hit the API server in lockstep.
    this.schedule(this.leader ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2));
  }

  private setLeader(leader: boolean, why: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    if (leader) this.stats.acquired += 1;
    else this.stats.lost += 1;
    this.options.logger.info(
      {
        event: leader ? "leader elected" : "leadership lost",
        lease: `${this.options.namespace}/${this.options.name}`,
        identity: this.options.identity,
        reason: why,
      },
      leader
        ? `this replica now writes TrustgatePolicy status (${why})`
        : `this replica no longer writes TrustgatePolicy status (${why})`,
    );
    this.options.onLeadershipChange?.(leader);
  }

  private record(identity: string, now: number, previous: LeaseSpec | null): LeaseSpec {
    const sameHolder = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000)),
      acquireTime: sameHolder && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (previous && !sameHolder ? 1 : 0),
    };
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { api, identity, namespace, name } = this.options;
    const now = this.now;
    let lease: Lease;
    try {
      lease = await api.request<Lease>("GET", this.path, { timeoutMs: this.options.retryPeriodMs * 2 });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
      const created: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace, labels: { "app.kubernetes.io/name": "trustgate" } },
        spec: this.record(identity, now, null),
      };
      try {
        await api.request("POST", this.collection, { body: created });
      } catch (createErr) {
        if (createErr instanceof KubeApiError && createErr.status === 409) return "taken"; // another candidate won
        throw createErr;
      }
      this.observed = { record: JSON.stringify(created.spec), atMs: now };
      return "held";
    }
    const spec = lease.spec ?? {};
    const seen = JSON.stringify(spec);
    if (this.observed === null || this.observed.record !== seen) this.observed = { record: seen, atMs: now };
    const holder = spec.holderIdentity ?? "";
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && holder !== identity && this.observed.atMs + durationMs > now) return "taken";
    const next: Lease = { ...lease, spec: this.record(identity, now, spec) };
    try {
      await api.request("PUT", this.path, { body: next, timeoutMs: this.options.retryPeriodMs * 2 });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return "failed"; // written since we read it: retry
      throw err;
    }
    this.observed = { record: JSON.stringify(next.spec), atMs: now };
    return "held";
  }

  private async release(): Promise<void> {
    const lease = await this.options.api.request<Lease>("GET", this.path);
    if (lease.spec?.holderIdentity !== this.options.identity) return;
    const now = this.now;
    await this.options.api.request("PUT", this.path, {
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: microTime(now),
          renewTime: microTime(now),
        },
      },
    });
  }
}
