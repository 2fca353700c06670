/**
 * The admin HTTP listener (health, readiness, metrics, the revocation list, operator and ingest endpoints).
 * Routes come from the modules that own them; this file only listens, dispatches and shuts down.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../observability/logger.js";
import { close, listen } from "./listen.js";
import { type Router, sendJson } from "./router.js";

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

  listen(address: string, setting?: string): Promise<AddressInfo | string> {
    return listen(this.server, address, "admin HTTP", setting);
  }

  close(): Promise<void> {
    return close(this.server);
  }
}
