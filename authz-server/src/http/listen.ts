/**
 * Listening and closing, the same way for every HTTP listener trustgate opens (admin, Falco ingest): `host:port`
 * (IPv6 as `[::1]:9192`) or `unix:/path`, an error that names the listener and address, and a close that does not
 * wait for idle keep-alive connections nor, past a short deadline, for any client at all.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";
import { listenFailureMessage } from "../util/listen-failure.js";

export type ListenAddress = { host?: string; port?: number; path?: string };

export type ListenAddressResult = { ok: true; address: ListenAddress } | { ok: false; error: string };

export function parseListenAddress(address: string): ListenAddressResult {
  if (address.startsWith("unix:")) return { ok: true, address: { path: address.slice(5).replace(/^\/\/(?=\/)/, "") } };
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match) return { ok: false, error: `invalid listen address "${address}" (expected host:port or unix:/path)` };
  return { ok: true, address: { host: match[1] || undefined, port: Number(match[2]) } };
}

const LOOPBACK_HOSTS = new Set(["localhost", "::1", "0:0:0:0:0:0:0:1"]);

/**
 * True when only this host can connect: a unix socket, or a loopback host (127.0.0.0/8, ::1, localhost). A wildcard
 * or any other address is reachable from outside — and through a sidecar every client looks like loopback anyway.
 */
export function isLoopbackOnly(address: string): boolean {
  const parsed = parseListenAddress(address);
  if (!parsed.ok) return false;
  if (parsed.address.path !== undefined) return true;
  const host = (parsed.address.host ?? "").toLowerCase();
  return LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Binds `server` to `address`; `what` names the listener in the error ("admin HTTP", "Falco ingest", "gRPC"),
 * `setting` the flag, variable and key that choose the address.
 */
export function listen(
  server: NetServer,
  address: string,
  what: string,
  setting = "its address setting",
): Promise<AddressInfo | string> {
  const parsed = parseListenAddress(address);
  if (!parsed.ok) return Promise.reject(new Error(`cannot listen for ${what}: ${parsed.error} — check ${setting}`));
  const target = parsed.address;
  if (isHttpServer(server)) trackResponses(server);
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(listenFailureMessage(what, address, err, setting))));
    const done = () => resolve(server.address() as AddressInfo | string);
    if (target.path) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

/**
 * How long a closing listener lets requests in progress finish before it cuts every connection still open. Node's
 * server.close() waits for every connection and, once called, no longer enforces requestTimeout or headersTimeout:
 * without this, one client sending a body (or headers) slowly would hold the shutdown for ever.
 */
export const CLOSE_DEADLINE_MS = 1_000;

/** An HTTP or HTTPS listener (both have what close() uses), rather than a bare net.Server. */
function isHttpServer(server: NetServer): server is Server {
  return typeof (server as unknown as Partial<Server>).closeAllConnections === "function";
}

interface Tracked {
  readonly open: Set<ServerResponse>;
  closing: boolean;
}

const tracked = new WeakMap<object, Tracked>();

/**
 * A response that must be the last on its connection: `Connection: close`, and Node ends the socket after it. (One
 * whose headers are already sent is cut at the deadline instead.)
 */
function lastOnConnection(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
}

/**
 * Keeps the responses in progress of `server`, so that close() can make each the last on its connection: a request
 * answered during the shutdown must not leave a keep-alive connection (and the process) open for keepAliveTimeout.
 */
function trackResponses(server: Server): Tracked {
  let state = tracked.get(server);
  if (state !== undefined) return state;
  const created: Tracked = { open: new Set(), closing: false };
  state = created;
  tracked.set(server, created);
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    if (created.closing) {
      lastOnConnection(res);
      return;
    }
    created.open.add(res);
    const done = () => created.open.delete(res);
    res.once("finish", done);
    res.once("close", done);
  });
  return state;
}

/**
 * Stops listening and resolves once every connection is closed: idle keep-alive connections at once, requests in
 * progress answered with `Connection: close`, and whatever is still open after `deadlineMs` (a half-sent body, a
 * slow-loris header, a response still streaming) cut.
 */
export function close(server: Server, deadlineMs = CLOSE_DEADLINE_MS): Promise<void> {
  const state = trackResponses(server);
  state.closing = true;
  for (const res of state.open) lastOnConnection(res);
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
