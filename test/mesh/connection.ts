/**
 * Per downstream connection, what Envoy knows about it: addresses, TLS facts of the peer and local certificates, and
 * the Wasm connection properties derived from them (envoy/extensions/filters/common/expr/context.cc). Values Envoy
 * reports as absent (no URI SAN, no digest without a peer certificate) are left out, never set to "". Pure.
 */
import { type PropertyMap, type PropertyValue, prop } from "../proxy-wasm-host/index.js";
import type { CertificateFacts } from "./certificate-facts.js";

export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly source: SocketAddress;
  readonly destination: SocketAddress;
  /** The verified peer certificate; null when the client presented none. */
  readonly peer: CertificateFacts | null;
  /** This sidecar's own certificate on the connection. */
  readonly local: CertificateFacts;
  readonly tlsVersion: string;
  readonly serverName: string;
  /** Wasm properties for every request on this connection (encoded once by the host). */
  readonly properties: PropertyMap;
}

export function connectionProperties(c: Omit<ConnectionInfo, "properties">): PropertyMap {
  const p: Record<string, PropertyValue> = {
    "connection.id": prop.uint(c.id),
    "connection.mtls": c.peer !== null,
    "connection.tls_version": c.tlsVersion,
    "connection.requested_server_name": c.serverName,
    // Envoy returns the subject string for any TLS connection; it is empty when no certificate was presented.
    "connection.subject_peer_certificate": c.peer?.subject ?? "",
    "connection.subject_local_certificate": c.local.subject,
    "source.address": `${c.source.ip}:${c.source.port}`,
    "source.port": prop.int(c.source.port),
    "destination.address": `${c.destination.ip}:${c.destination.port}`,
    "destination.port": prop.int(c.destination.port),
  };
  const localUri = c.local.uriSans[0];
  if (localUri !== undefined) p["connection.uri_san_local_certificate"] = localUri;
  if (c.peer) {
    const uri = c.peer.uriSans[0];
    if (uri !== undefined) p["connection.uri_san_peer_certificate"] = uri;
    const dns = c.peer.dnsSans[0];
    if (dns !== undefined) p["connection.dns_san_peer_certificate"] = dns;
    if (c.peer.sha256 !== "") p["connection.sha256_peer_certificate_digest"] = c.peer.sha256;
  }
  return p;
}
