/**
 * The outbound side: the app calls http://127.0.0.1:<outbound port> with `Host: <service>`; the stand-in routes on
 * the host (the compose bootstrap's virtual hosts), adds x-request-id if absent, and originates mTLS to the
 * destination's inbound listener with this workload's SVID, verifying the server against the trust bundle and the
 * exact SPIFFE ID expected for that destination (UpstreamTlsContext + SPIFFE validator). Connections are pooled per
 * destination; a rotation retires the pools so new connections present the new certificate. A failed connection is
 * a 503 local reply naming the transport failure, as Envoy's router sends.
 */
import { X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import { now } from "./access-log.js";
import { ensureRequestId, relayableRequestHeaders, relayableResponseHeaders, toOutgoing } from "./http-headers.js";
import { checkSpiffePeer } from "./peer-validation.js";
import type { Route, Sidecar } from "./sidecar.js";

export class OutboundAgents {
  private readonly pools = new Map<string, { agent: https.Agent; fingerprint: string }>();
  private readonly retired = new Set<https.Agent>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly sidecar: Sidecar) {}

  /** The pool for a destination, and the fingerprint of the client certificate its connections present. */
  agentFor(route: Route): { agent: https.Agent; fingerprint: string } {
    const key = `${route.port}|${route.spiffeId}`;
    let pool = this.pools.get(key);
    if (!pool) {
      const { svid, upstreamBundles } = this.sidecar;
      const agent = new https.Agent({
        keepAlive: true,
        key: svid.keyPem,
        cert: svid.certPem,
        ca: upstreamBundles.allPems,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        maxCachedSessions: 0,
        checkServerIdentity: (_host, cert) => {
          const check = checkSpiffePeer(new X509Certificate(cert.raw), upstreamBundles, (u) => u === route.spiffeId);
          if (check.ok) return undefined;
          this.sidecar.count(`upstream.ssl.${check.stat}`);
          return Object.assign(new Error(check.reason), { code: "ERR_SPIFFE_VALIDATION" });
        },
      });
      pool = { agent, fingerprint: svid.fingerprint };
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** After a rotation: new requests get new pools; old pools close once their in-flight requests are done. */
  retireAll(): void {
    for (const pool of this.pools.values()) this.retired.add(pool.agent);
    this.pools.clear();
    this.sweep();
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), 100);
      this.sweeper.unref();
    }
  }

  destroyAll(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const agent of [...[...this.pools.values()].map((p) => p.agent), ...this.retired]) agent.destroy();
    this.pools.clear();
    this.retired.clear();
  }

  private sweep(): void {
    for (const agent of this.retired) {
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      if (Object.keys(agent.sockets).length === 0) {
        agent.destroy();
        this.retired.delete(agent);
      }
    }
    if (this.retired.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

function transportFailure(err: NodeJS.ErrnoException): string {
  return `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${err.code ?? "error"}: ${err.message}`;
}

export function handleOutbound(sidecar: Sidecar, req: IncomingMessage, res: ServerResponse): void {
  const destination = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
  const headers = relayableRequestHeaders(req).filter(([k]) => k !== "host");
  const requestId = ensureRequestId(headers);
  const dispatchedAt = now();
  let clientFingerprint = "";
  const record = (status: number, error: string) =>
    sidecar.outboundLog.push({
      dispatchedAt,
      at: now(),
      clientFingerprint,
      requestId,
      destination,
      method: req.method ?? "",
      path: req.url ?? "",
      status,
      error,
    });
  const route = sidecar.routes.get(destination);
  if (!route) {
    req.resume();
    record(404, "no route");
    res.writeHead(404, { "content-length": "0" });
    res.end();
    return;
  }
  const pool = sidecar.agents.agentFor(route);
  clientFingerprint = pool.fingerprint;
  const upstream = https.request({
    host: "127.0.0.1",
    port: route.port,
    method: req.method,
    path: req.url,
    headers: { ...toOutgoing(headers), host: destination },
    agent: pool.agent,
  });
  upstream.on("response", (upstreamRes) => {
    record(upstreamRes.statusCode ?? 0, "");
    res.writeHead(upstreamRes.statusCode ?? 502, relayableResponseHeaders(upstreamRes.headers));
    upstreamRes.pipe(res);
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    sidecar.count("upstream.cx_connect_fail");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = transportFailure(err);
    record(503, body);
    res.writeHead(503, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  req.pipe(upstream);
}
