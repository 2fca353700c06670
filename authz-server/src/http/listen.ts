/**
 * Listening and closing, the same way for every HTTP listener trustgate opens (admin, Falco ingest): `host:port`
 * (IPv6 as `[::1]:9192`) or `unix:/path`, an error that names the listener and address, and a close that does not
 * wait for idle keep-alive connections.
 */
import type { Server } from "node:http";
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
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(listenFailureMessage(what, address, err, setting))));
    const done = () => resolve(server.address() as AddressInfo | string);
    if (target.path) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
