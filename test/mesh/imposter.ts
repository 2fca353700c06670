/**
 * A TLS server that answers on a hijacked address with some certificate (stolen from another workload, or from an
 * outsider's CA): the man in the middle. It counts the HTTP requests that reach it.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { ClientCredentials } from "./mtls-client.js";

export interface Imposter {
  readonly port: number;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startImposter(credentials: ClientCredentials): Promise<Imposter> {
  let requests = 0;
  const server = https.createServer({ key: credentials.keyPem, cert: credentials.certPem }, (req, res) => {
    requests++;
    req.resume();
    res.end("intercepted");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
