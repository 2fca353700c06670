/**
 * The admin HTTP listener (health, readiness, metrics, the revocation list, operator and ingest endpoints).
 * Routes come from the modules that own them; this file only listens, dispatches and shuts down.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../observability/logger.js";
import { type Router, sendJson } from "./router.js";

/** Splits `host:port` (IPv6 as `[::1]:9192`); `unix:/path` listens on a socket. */
export function parseListenAddress(address: string): { host?: string; port?: number; path?: string } {
  if (address.startsWith("unix:")) return { path: address.slice(5).replace(/^\/\/(?=\/)/, "") };
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`invalid listen address "${address}" (expected host:port or unix:/path)`);
  return { host: match[1] || undefined, port: Number(match[2]) };
}

export class AdminServer {
  readonly server: Server;

  constructor(
    private readonly router: Router,
    private readonly logger: Logger,
  ) {
    this.server = createServer((req, res) => {
      this.router.handle(req, res).catch((err: unknown) => {
        // The path only: a query string can carry a credential (Falco's http_output sends ?token=).
        this.logger.error({ err, path: (req.url ?? "").split("?")[0] }, "admin request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.requestTimeout = 30_000;
  }

  listen(address: string): Promise<AddressInfo | string> {
    const target = parseListenAddress(address);
    return new Promise((resolve, reject) => {
      this.server.once("error", (err) => reject(new Error(`cannot listen for HTTP on ${address}: ${err.message}`)));
      const done = () => resolve(this.server.address() as AddressInfo | string);
      if (target.path) this.server.listen(target.path, done);
      else this.server.listen(target.port, target.host, done);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
