/**
 * The client address Envoy's RBAC calls the "remote IP" (`remote.ip`, `remoteIpBlocks`), worked out the way Envoy's
 * connection manager picks the trusted client address from `x-forwarded-for`: skip the right-most
 * `numTrustedProxies` entries of the header as the authorizer receives it and take the next one; with fewer entries,
 * or an entry that is not an IP address, it is the direct peer.
 *
 * The count is the proxy's `xff_num_trusted_hops` (Istio: `numTrustedProxies` at a gateway, 0 at a sidecar). A gateway
 * with `use_remote_address: true` has already appended the direct peer to the header before ext_authz sees it, so
 * the same count gives the same entry there too.
 */
import { isIP } from "node:net";

const SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

export function remoteIpOf(xff: string | undefined, peer: string, numTrustedProxies: number): string {
  if (xff === undefined) return peer;
  let rest = xff;
  for (let skipped = 0; skipped < numTrustedProxies; skipped++) {
    const comma = rest.lastIndexOf(",");
    if (comma === -1) return peer;
    rest = rest.slice(0, comma);
  }
  const entry = rest.slice(rest.lastIndexOf(",") + 1).replace(SPACE, "");
  return isIP(entry) === 0 ? peer : entry;
}
