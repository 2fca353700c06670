/**
 * The whole e-commerce mesh on one machine: trustgate as a real process with the example policies, and per workload
 * the demo app (a real child process) behind a sidecar stand-in with its own SVID. Calls between workloads are made
 * the way the app makes them (GET /call on the calling app → its sidecar's outbound → mTLS → the callee's sidecar).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { freePort } from "../support/free-port.js";
import { type InboundLogEntry, now, type OutboundLogEntry } from "./access-log.js";
import { type AppProcess, startApp } from "./app-process.js";
import type { FalcoAlert } from "./falco-alert.js";
import { type ClientCredentials, type MtlsResult, mtlsRequest } from "./mtls-client.js";
import { type IssuedSvid, MeshPki } from "./pki.js";
import { FILTER_WASM, requireBuildOutputs } from "./repo.js";
import { Sidecar, type SidecarConfig } from "./sidecar.js";
import { TrustgateProcess } from "./trustgate-process.js";
import { INGRESS_GATEWAY_ID, TRUST_DOMAIN, WORKLOAD_NAMES, WORKLOADS, type WorkloadName } from "./workloads.js";

export interface MeshOptions {
  /** trustgate `risk.halfLifeSeconds` (also how long an alert stays active). Default 2. */
  readonly halfLifeSeconds?: number;
  /** The filter's revocation `pollMs`. Default 1000. */
  readonly revocationPollMs?: number;
  /**
   * ext_authz grpc_service timeout. Default 1000 ms, not the compose bootstrap's 250 ms: here the sidecars, the
   * apps and trustgate share two cores with the rest of the test suite, and a scheduling stall longer than 250 ms
   * would turn into a 403 (status_on_error) that says nothing about trustgate. Pass 250 to run Envoy's value.
   */
  readonly checkTimeoutMs?: number;
  readonly workloads?: readonly WorkloadName[];
}

export interface MeshCallResult {
  /** The callee's HTTP status as the calling app saw it; 0 when the call could not be made. */
  readonly status: number;
  readonly body: unknown;
  readonly error?: string;
  /** The caller sidecar's outbound record and the callee sidecar's access-log entry for this call. */
  readonly outbound?: OutboundLogEntry;
  readonly entry?: InboundLogEntry;
}

export interface FalcoPostResult {
  readonly status: number;
  readonly body: unknown;
  /** When the ingest response arrived (ms since the epoch, sub-millisecond). */
  readonly respondedAt: number;
}

export function defaultFilterConfig(pollMs: number): Record<string, unknown> {
  // As in envoy-configs/compose/envoy/*.yaml.
  return {
    requireMtls: true,
    allowedTrustDomains: [TRUST_DOMAIN],
    revocation: { cluster: "trustgate_admin", authority: "trustgate", path: "/v1/revocations", pollMs },
  };
}

export class Mesh {
  readonly sidecars = new Map<string, Sidecar>();
  readonly apps = new Map<WorkloadName, AppProcess>();
  readonly falcoToken = randomBytes(16).toString("hex");
  readonly adminToken = randomBytes(16).toString("hex");
  trustgate!: TrustgateProcess;
  gateway!: IssuedSvid;
  private wasm!: Uint8Array;

  private constructor(
    readonly pki: MeshPki,
    readonly options: Required<MeshOptions>,
  ) {}

  static async start(options: MeshOptions = {}): Promise<Mesh> {
    requireBuildOutputs();
    const mesh = new Mesh(await MeshPki.load(), {
      halfLifeSeconds: options.halfLifeSeconds ?? 2,
      revocationPollMs: options.revocationPollMs ?? 1000,
      checkTimeoutMs: options.checkTimeoutMs ?? 1000,
      workloads: options.workloads ?? WORKLOAD_NAMES,
    });
    try {
      await mesh.boot();
    } catch (err) {
      await mesh.stop();
      throw err;
    }
    return mesh;
  }

  private async boot(): Promise<void> {
    this.wasm = readFileSync(FILTER_WASM);
    this.trustgate = await TrustgateProcess.start({
      halfLifeSeconds: this.options.halfLifeSeconds,
      falcoToken: this.falcoToken,
      adminToken: this.adminToken,
    });
    this.gateway = await this.pki.issue(
      INGRESS_GATEWAY_ID,
      "C=US, O=trustgate demo, CN=gateway.ingress.svc.cluster.local",
    );
    const names = this.options.workloads;
    for (const name of names) {
      const sidecar = new Sidecar(this.sidecarConfig(name, await freePort(), await this.pki.initialSvid(name)));
      this.sidecars.set(name, sidecar);
      await sidecar.start();
    }
    for (const name of names) {
      for (const to of names) {
        if (to !== name)
          this.sidecar(name).routes.set(to, { port: this.sidecar(to).inboundPort, spiffeId: WORKLOADS[to].spiffeId });
      }
    }
    const apps = await Promise.all(names.map((name) => this.startAppBehind(name, names)));
    for (const app of apps) this.apps.set(app.name as WorkloadName, app);
  }

  /**
   * The app behind `name`'s sidecar. Its port was picked free before the app bound it, so another process can take it
   * meanwhile: then the app starts again on a new port, and the sidecar is pointed at it.
   */
  private async startAppBehind(name: WorkloadName, names: readonly WorkloadName[]): Promise<AppProcess> {
    const sidecar = this.sidecar(name);
    const destinations = names.filter((to) => to !== name);
    for (let attempt = 1; ; attempt++) {
      try {
        return await startApp(name, sidecar.config.appPort, sidecar.outboundPort, destinations);
      } catch (err) {
        if (attempt === 3 || !String(err).includes("EADDRINUSE")) throw err;
        sidecar.moveApp(await freePort());
      }
    }
  }

  /** The sidecar configuration of a workload, as the compose bootstrap has it. */
  sidecarConfig(name: WorkloadName, appPort: number, svid: IssuedSvid): SidecarConfig {
    const bundle = { [TRUST_DOMAIN]: [this.pki.bundlePem] };
    return {
      name,
      workload: WORKLOADS[name],
      svid,
      appPort,
      bundles: bundle,
      upstreamBundles: bundle,
      wasm: this.wasm,
      filterConfig: defaultFilterConfig(this.options.revocationPollMs),
      clusters: { trustgate_admin: { host: this.trustgate.adminHost, port: this.trustgate.adminPort } },
      extAuthz: { grpcAddress: this.trustgate.grpcAddress, timeoutMs: this.options.checkTimeoutMs },
    };
  }

  sidecar(name: string): Sidecar {
    const s = this.sidecars.get(name);
    if (!s) throw new Error(`no sidecar ${name} in the mesh`);
    return s;
  }

  /** An extra sidecar in front of `workload`'s app with some settings changed (e.g. a federated bundle). */
  async addSidecar(instance: string, workload: WorkloadName, changes: Partial<SidecarConfig>): Promise<Sidecar> {
    const base = this.sidecar(workload);
    const sidecar = new Sidecar({
      ...this.sidecarConfig(workload, base.config.appPort, base.svid),
      name: instance,
      ...changes,
    });
    this.sidecars.set(instance, sidecar);
    await sidecar.start();
    return sidecar;
  }

  /** `from`'s app calls `to` through the mesh (GET /call on the app, as the demo app's contract defines). */
  async call(from: WorkloadName, to: string, path: string, method = "GET"): Promise<MeshCallResult> {
    const app = this.apps.get(from);
    if (!app) throw new Error(`no app ${from}`);
    const outbound = this.sidecar(from).outboundLog;
    const before = outbound.length;
    const query = new URLSearchParams({ to, path, method });
    const response = await fetch(`http://127.0.0.1:${app.port}/call?${query}`);
    const result = (await response.json()) as { status: number; body: unknown; error?: string };
    const mine = outbound.slice(before).filter((e) => e.destination === to);
    const record = mine.length === 1 ? mine[0] : undefined;
    const callee = this.sidecars.get(to);
    const entry = record && callee ? callee.accessLog.find((e) => e.requestId === record.requestId) : undefined;
    return { ...result, ...(record ? { outbound: record } : {}), ...(entry ? { entry } : {}) };
  }

  /** A direct mTLS request to a sidecar's inbound listener with any credentials (or none). */
  request(
    to: string,
    credentials: ClientCredentials | null,
    options: { method?: string; path?: string; headers?: ReadonlyArray<readonly [string, string]> } = {},
  ): Promise<MtlsResult> {
    const sidecar = this.sidecar(to);
    return mtlsRequest({
      port: sidecar.inboundPort,
      credentials,
      ca: [this.pki.bundlePem],
      expectServerId: sidecar.svid.spiffeId,
      authority: sidecar.config.workload.name,
      ...options,
    });
  }

  /** The ingress gateway (spiffe://cluster.local/ns/ingress/sa/gateway) calling a workload. */
  ingress(
    to: string,
    path = "/",
    method = "GET",
    headers: ReadonlyArray<readonly [string, string]> = [],
  ): Promise<MtlsResult> {
    return this.request(to, this.gateway, { method, path, headers });
  }

  /** POST /v1/falco with the ingest token, exactly as Falco's http_output would. */
  async postFalco(alert: FalcoAlert): Promise<FalcoPostResult> {
    const response = await fetch(`${this.trustgate.adminUrl}/v1/falco`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.falcoToken}` },
      body: alert.json,
    });
    const text = await response.text();
    const respondedAt = now();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: response.status, body, respondedAt };
  }

  async risk(spiffeId: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.trustgate.adminUrl}/v1/risk?id=${encodeURIComponent(spiffeId)}`);
    return (await response.json()) as Record<string, unknown>;
  }

  /** DELETE /v1/risk?id=… with the admin token (an operator clearing a workload after investigation). */
  async clearRisk(spiffeId: string): Promise<number> {
    const response = await fetch(`${this.trustgate.adminUrl}/v1/risk?id=${encodeURIComponent(spiffeId)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${this.adminToken}` },
    });
    await response.text();
    return response.status;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.sidecars.values()].map((s) => s.stop()));
    await Promise.allSettled([...this.apps.values()].map((a) => a.stop()));
    if (this.trustgate) await this.trustgate.stop();
  }
}
