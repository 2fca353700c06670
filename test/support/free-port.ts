import { createServer } from "node:net";

// The OS may hand the same ephemeral port to two listen(0) calls in a row once the first is closed; a test that asks
// for two ports (gRPC and HTTP) must get two different ones, so this process never hands out a port twice.
const handedOut = new Set<number>();

function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it) and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await osPickedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no fresh free port after 50 tries");
}
