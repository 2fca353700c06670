/**
 * A small Node stand-in for one workload's Envoy sidecar (test tooling): an mTLS inbound listener that runs the
 * compiled trustgate Wasm filter and then trustgate's ext_authz Check before forwarding to the app, and a plain HTTP
 * outbound listener for the app that originates mTLS to other sidecars with this workload's SVID. How each step maps
 * to Envoy is described in inbound.ts, outbound.ts, peer-validation.ts and check-*.ts.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { type InboundLogEntry, now, type OutboundLogEntry, type Refusal } from "./access-log.js";
import { type CertificateFacts, certificateFacts } from "./certificate-facts.js";
import { type ConnectionInfo, connectionProperties } from "./connection.js";
import { ExtAuthzClient } from "./ext-authz.js";
import { type ClusterAddress, FilterVm } from "./filter-vm.js";
import { handleInbound } from "./inbound.js";
import { handleOutbound, OutboundAgents } from "./outbound.js";
import { TrustBundles, verifyDownstreamPeer } from "./peer-validation.js";
import type { IssuedSvid } from "./pki.js";
import type { WorkloadSpec } from "./workloads.js";

export interface SidecarConfig {
  /** Instance name for logs (a workload can have extra sidecars, e.g. "cache-federated"). */
  readonly name: string;
  readonly workload: WorkloadSpec;
  readonly svid: IssuedSvid;
  readonly appPort: number;
  /** Downstream validation context: trust domain → root PEMs (SPIRE's bundle, plus federated ones). */
  readonly bundles: Readonly<Record<string, readonly string[]>>;
  /** `match_typed_subject_alt_names` prefixes; default: `spiffe://<td>/` for every bundle's trust domain. */
  readonly uriSanPrefixes?: readonly string[];
  /** `require_client_certificate` (default true). */
  readonly requireClientCert?: boolean;
  /** Upstream validation: the trust bundle outbound connections verify servers against. */
  readonly upstreamBundles: Readonly<Record<string, readonly string[]>>;
  readonly wasm: Uint8Array;
  /** The filter's plugin configuration. */
  readonly filterConfig: Readonly<Record<string, unknown>>;
  /** Envoy clusters the filter may call, e.g. { trustgate_admin: { host, port } }. */
  readonly clusters: Readonly<Record<string, ClusterAddress>>;
  readonly extAuthz: {
    readonly grpcAddress: string;
    /** grpc_service timeout (compose config: 0.25 s). */
    readonly timeoutMs?: number;
    readonly failureModeAllow?: boolean;
    /** status_on_error (Envoy's default 403). */
    readonly statusOnError?: number;
    readonly includePeerCertificate?: boolean;
  };
}

export interface Route {
  readonly port: number;
  /** The SPIFFE ID the upstream must present (the cluster's exact URI SAN matcher). */
  readonly spiffeId: string;
}

export type SidecarStats = Record<string, number>;

export class Sidecar {
  readonly accessLog: InboundLogEntry[] = [];
  readonly outboundLog: OutboundLogEntry[] = [];
  readonly refusals: Refusal[] = [];
  readonly stats: SidecarStats = {};
  /** Outbound routing by `Host` (the compose bootstrap's virtual hosts), filled in by the mesh. */
  readonly routes = new Map<string, Route>();
  readonly filter: FilterVm;
  readonly authz: ExtAuthzClient;
  readonly downstreamBundles: TrustBundles;
  readonly upstreamBundles: TrustBundles;
  readonly uriSanPrefixes: readonly string[];
  readonly connections = new WeakMap<TLSSocket, ConnectionInfo>();
  readonly appAgent = new http.Agent({ keepAlive: true });
  failureModeAllow: boolean;
  private svidNow: IssuedSvid;
  private localFactsNow: CertificateFacts;
  private readonly inbound: https.Server;
  private readonly outbound: http.Server;
  readonly agents: OutboundAgents;
  private nextConnectionId = 1;
  private listening = false;

  constructor(public config: SidecarConfig) {
    this.svidNow = config.svid;
    this.localFactsNow = factsOf(config.svid);
    this.failureModeAllow = config.extAuthz.failureModeAllow ?? false;
    this.downstreamBundles = new TrustBundles(config.bundles);
    this.upstreamBundles = new TrustBundles(config.upstreamBundles);
    this.uriSanPrefixes = config.uriSanPrefixes ?? Object.keys(config.bundles).map((td) => `spiffe://${td}/`);
    this.filter = new FilterVm({
      wasm: config.wasm,
      pluginConfig: JSON.stringify(config.filterConfig),
      clusters: config.clusters,
    });
    this.authz = new ExtAuthzClient(config.extAuthz.grpcAddress);
    this.agents = new OutboundAgents(this);

    this.inbound = https.createServer(
      { ...this.tlsOptions(), requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" },
      (req, res) => void handleInbound(this, req, res),
    );
    // Runs before the HTTP layer sees the connection: refuse it like a failed handshake, before any request is read.
    this.inbound.prependListener("secureConnection", (socket: TLSSocket) => this.admit(socket));
    this.inbound.on("tlsClientError", (err: NodeJS.ErrnoException) => {
      this.count("ssl.connection_error");
      this.refusals.push({ at: now(), stat: "ssl.connection_error", reason: err.message, claimed: "" });
    });
    this.outbound = http.createServer((req, res) => handleOutbound(this, req, res));
  }

  get name(): string {
    return this.config.name;
  }

  get svid(): IssuedSvid {
    return this.svidNow;
  }

  get inboundPort(): number {
    return (this.inbound.address() as AddressInfo).port;
  }

  get outboundPort(): number {
    return (this.outbound.address() as AddressInfo).port;
  }

  /** The app behind this sidecar moved (it lost its chosen port to another process and started on a new one). */
  moveApp(appPort: number): void {
    this.config = { ...this.config, appPort };
  }

  async start(): Promise<void> {
    await Promise.all([listen(this.inbound), listen(this.outbound)]);
    this.listening = true;
  }

  /** New SVID (new key and certificate) for new inbound and outbound connections; open ones keep theirs. */
  rotate(svid: IssuedSvid): void {
    this.svidNow = svid;
    this.localFactsNow = factsOf(svid);
    this.inbound.setSecureContext(this.tlsOptions());
    this.agents.retireAll();
    this.count("sds.rotations");
  }

  count(stat: string): void {
    this.stats[stat] = (this.stats[stat] ?? 0) + 1;
  }

  async stop(): Promise<void> {
    this.filter.close();
    this.authz.close();
    this.agents.destroyAll();
    this.appAgent.destroy();
    if (!this.listening) return;
    this.listening = false;
    for (const server of [this.inbound, this.outbound]) server.closeAllConnections();
    await Promise.all([close(this.inbound), close(this.outbound)]);
  }

  private tlsOptions(): { key: string; cert: string; ca: string[] } {
    return { key: this.svidNow.keyPem, cert: this.svidNow.certPem, ca: this.downstreamBundles.allPems };
  }

  /** Per connection: verify the peer as Envoy's TLS context would, then fix its connection properties. */
  private admit(socket: TLSSocket): void {
    const check = verifyDownstreamPeer(
      socket,
      this.downstreamBundles,
      this.uriSanPrefixes,
      this.config.requireClientCert ?? true,
    );
    if (!check.ok) {
      let claimed = "";
      try {
        const cert = socket.getPeerX509Certificate();
        if (cert) claimed = certificateFacts(cert.raw).uriSans[0] ?? "";
      } catch {
        // an unparsable certificate claims nothing
      }
      this.count(`ssl.${check.stat}`);
      this.refusals.push({ at: now(), stat: `ssl.${check.stat}`, reason: check.reason, claimed });
      socket.destroy();
      return;
    }
    this.count("ssl.handshake");
    const info = {
      id: this.nextConnectionId++,
      source: { ip: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
      destination: { ip: socket.localAddress ?? "", port: socket.localPort ?? 0 },
      peer: check.peer,
      local: this.localFactsNow,
      tlsVersion: socket.getProtocol() ?? "",
      serverName: typeof socket.servername === "string" ? socket.servername : "",
    };
    this.connections.set(socket, { ...info, properties: connectionProperties(info) });
  }
}

function factsOf(svid: IssuedSvid): CertificateFacts {
  const der = Buffer.from(svid.certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return certificateFacts(der);
}

function listen(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
