/**
 * The primary's gRPC listener with worker processes: it accepts each connection and hands it, unread, to the serving
 * worker that holds the fewest open connections (the socket travels over the cluster IPC channel; no byte of gRPC
 * passes through the primary).
 *
 * Why not Node's own cluster round-robin: it gives a connection to the first worker that has acknowledged its last
 * one, not to the one with the fewest. Envoy keeps a few long-lived HTTP/2 connections to ext_authz, so one unlucky
 * hand-out lasts: with 4 connections and 2 workers, 1 start in 4 split them 3 : 1 (measured with `ss` under h2load),
 * and the busier worker capped the throughput at what one core does.
 */
import net from "node:net";
import { listen } from "../http/listen.js";

/** A worker as the dispatcher sees it: it takes a socket, and says so through `done` (an error if it could not). */
export interface ConnectionTaker {
  take(socket: net.Socket, done: (err: Error | null) => void): void;
}

interface Entry {
  readonly taker: ConnectionTaker;
  open: number;
}

/**
 * The key with the fewest open connections, leaving out `skip`; on a tie, the one that got a connection least
 * recently (insertion order).
 */
export function leastLoaded<K>(open: ReadonlyMap<K, { readonly open: number }>, skip?: ReadonlySet<K>): K | undefined {
  let best: K | undefined;
  let fewest = Number.POSITIVE_INFINITY;
  for (const [key, entry] of open) {
    if (entry.open < fewest && skip?.has(key) !== true) {
      fewest = entry.open;
      best = key;
    }
  }
  return best;
}

export class ConnectionDispatch {
  /** Serving workers in the order they last got a connection (least recent first), with their open connections. */
  private readonly workers = new Map<number, Entry>();
  private readonly server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.handOut(socket));

  constructor(
    private readonly address: string,
    private readonly setting: string,
    /** Told about every connection closed without a worker, and about accept errors (EMFILE…), which do not stop it. */
    private readonly onDropped: (reason: string) => void = () => undefined,
  ) {}

  /** Binds the address as every listener of trustgate does; resolves with the TCP port (0 for a unix socket). */
  async listen(): Promise<number> {
    const bound = await listen(this.server, this.address, "gRPC", this.setting);
    this.server.on("error", (err) => this.onDropped(`accepting failed: ${err.message}`));
    return typeof bound === "string" ? 0 : bound.port;
  }

  /** The worker serves: it gets connections from now on. */
  add(id: number, taker: ConnectionTaker): void {
    if (!this.workers.has(id)) this.workers.set(id, { taker, open: 0 });
  }

  /** The worker drains or is gone: no more connections for it. */
  remove(id: number): void {
    this.workers.delete(id);
  }

  /** One of the worker's connections closed. */
  closed(id: number): void {
    const entry = this.workers.get(id);
    if (entry !== undefined && entry.open > 0) entry.open -= 1;
  }

  /** Open connections per serving worker (for tests and `/readyz`). */
  openConnections(): ReadonlyMap<number, number> {
    return new Map([...this.workers].map(([id, e]) => [id, e.open]));
  }

  /**
   * Stops accepting at once; connections already handed out stay with their workers. Node's close callback would wait
   * until the workers have closed every connection they were handed, which they do only while draining.
   */
  close(): void {
    if (this.server.listening) this.server.close();
  }

  private handOut(socket: net.Socket, failed?: Set<number>): void {
    // A client that resets before the hand-over must not become an unhandled 'error' in the primary.
    if (failed === undefined) socket.on("error", () => socket.destroy());
    const id = leastLoaded(this.workers, failed);
    if (id === undefined) {
      // No worker serves (all restarting or draining), or none could take it: refuse rather than hold. Envoy
      // reconnects, or fails closed.
      socket.destroy();
      this.onDropped(failed === undefined ? "no serving worker" : "no worker could take it");
      return;
    }
    const entry = this.workers.get(id)!;
    entry.open += 1;
    // Moved to the end: among workers with as many connections, the one served longest ago goes first.
    this.workers.delete(id);
    this.workers.set(id, entry);
    entry.taker.take(socket, (err) => {
      if (err === null) return;
      // Most likely the worker is dying (it is removed when its exit is seen): this socket tries the others.
      entry.open -= 1;
      this.onDropped(`worker ${id} could not take a connection: ${err.message}`);
      if (socket.destroyed) return;
      this.handOut(socket, new Set(failed).add(id));
    });
  }
}
