import { describe, expect, it } from "vitest";
import { remoteIpOf } from "./remote-ip.js";

// Envoy's "trusted client address" rules (HTTP connection manager docs, x-forwarded-for examples), applied to the
// header as ext_authz receives it.
describe("remoteIpOf", () => {
  it.each<[string | undefined, string, number, string]>([
    // Example 2: internal proxy, use_remote_address false, 0 hops → last entry.
    ["203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5", "10.11.12.13", 0, "192.0.2.5"],
    // Example 4: internal proxy, 2 hops → third from the right.
    ["203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5", "10.11.12.13", 2, "203.0.113.10"],
    // Example 1 after the edge appended its peer: use_remote_address true, 0 hops → the peer (= last entry).
    ["203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5", "192.0.2.5", 0, "192.0.2.5"],
    // Examples 5 and 6: no header → peer; one entry → that entry.
    [undefined, "10.20.30.40", 0, "10.20.30.40"],
    ["10.20.30.40", "10.20.30.50", 0, "10.20.30.40"],
    // Fewer entries than trusted hops, or an entry that is not an IP → peer.
    ["72.9.5.6, 192.0.2.5", "192.0.2.5", 2, "192.0.2.5"],
    ["1.2.3.4, garbage", "10.0.0.5", 0, "10.0.0.5"],
    ["1.2.3.4,", "10.0.0.5", 0, "10.0.0.5"],
    ["  2001:db8::1  ", "10.0.0.5", 0, "2001:db8::1"],
    ["", "10.0.0.5", 0, "10.0.0.5"],
  ])("%j from %s with %i trusted → %s", (xff, peer, n, expected) => {
    expect(remoteIpOf(xff, peer, n)).toBe(expected);
  });
});
