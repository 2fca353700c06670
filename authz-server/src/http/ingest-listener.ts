/**
 * The optional separate ingest listener (`falco.ingest.addr`), serving only `POST /v1/falco`: so Falco can reach
 * ingest without reaching the admin endpoints, and so ingest can use TLS. With `falco.ingest.tls` it speaks HTTPS;
 * with `clientCaFile` it also asks for a client certificate and accepts one that verifies against that CA as
 * authentication (mTLS, as both Falco's http_output and Falcosidekick support). Clients without a certificate may
 * still connect and authenticate with the token.
 */
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "../observability/logger.js";
import { FALCO_INGEST_METHODS, FALCO_INGEST_PATH } from "./falco-routes.js";
import { close, listen } from "./listen.js";
import { type Handler, Router, sendJson } from "./router.js";

export interface IngestTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
}

export class IngestListener {
  private server: Server | null = null;

  constructor(
    private readonly handler: Handler,
    private readonly logger: Logger,
  ) {}

  async listen(address: string, tls: IngestTls | undefined): Promise<AddressInfo | string> {
    const router = new Router();
    for (const method of FALCO_INGEST_METHODS) router.on(method, FALCO_INGEST_PATH, this.handler);
    const handle: Parameters<typeof createHttpServer>[1] = (req, res) => {
      router.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, "Falco ingest request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
    };
    let server: Server;
    if (tls) {
      const read = (file: string, what: string) =>
        readFile(file).catch((err: Error) => {
          throw new Error(`cannot read falco.ingest.tls.${what} ${file}: ${err.message}`);
        });
      const [cert, key, ca] = await Promise.all([
        read(tls.certFile, "certFile"),
        read(tls.keyFile, "keyFile"),
        tls.clientCaFile ? read(tls.clientCaFile, "clientCaFile") : Promise.resolve(undefined),
      ]);
      server = createHttpsServer(
        { cert, key, ca, requestCert: ca !== undefined, rejectUnauthorized: false, minVersion: "TLSv1.2" },
        handle,
      );
    } else {
      server = createHttpServer(handle);
    }
    server.keepAliveTimeout = 65_000;
    server.requestTimeout = 30_000;
    this.server = server;
    return listen(server, address, "Falco ingest", "falco.ingest.addr (TRUSTGATE_FALCO_INGEST_ADDR)");
  }

  close(): Promise<void> {
    return this.server === null ? Promise.resolve() : close(this.server);
  }
}
