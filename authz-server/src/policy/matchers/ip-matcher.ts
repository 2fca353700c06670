/**
 * IP and CIDR matching (IPv4 and IPv6) on Node's `net.BlockList`, built once per policy field.
 */
import { BlockList, isIP } from "node:net";
import type { RequestModel } from "../../model/request-model.js";
import type { Matcher } from "./matcher.js";

export interface IpBlock {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

export type IpBlockResult = { ok: true; block: IpBlock } | { ok: false; error: string };

/** Parses `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
export function parseIpBlock(raw: string): IpBlockResult {
  const slash = raw.indexOf("/");
  const address = slash === -1 ? raw : raw.slice(0, slash);
  const version = address.includes("%") ? 0 : isIP(address);
  if (version === 0) return { ok: false, error: `"${raw}" is not an IP address or CIDR block` };
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const text = raw.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(text) || Number(text) > max)
      return { ok: false, error: `"${raw}" has an invalid prefix length` };
    prefix = Number(text);
  }
  return { ok: true, block: { address, prefix, family: version === 4 ? "ipv4" : "ipv6" } };
}

/**
 * One BlockList per address family: Node matches IPv4-mapped IPv6 addresses against IPv4 ranges (and back), Envoy's
 * CIDR ranges never match an address of the other family.
 */
export class IpMatcher implements Matcher {
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();

  constructor(
    private readonly read: (model: RequestModel) => string,
    blocks: readonly IpBlock[],
  ) {
    for (const b of blocks) (b.family === "ipv4" ? this.v4 : this.v6).addSubnet(b.address, b.prefix, b.family);
  }

  matches(model: RequestModel): boolean {
    return this.test(this.read(model));
  }

  test(ip: string): boolean {
    const version = isIP(ip);
    if (version === 0) return false;
    return version === 4 ? this.v4.check(ip, "ipv4") : this.v6.check(ip, "ipv6");
  }
}

/**
 * The DENY-only variant: an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) also matches the IPv4 ranges and an IPv4
 * address the `::ffff:` ranges, as they are the same host. Envoy reports an IPv4 peer of a dual-stack listener as
 * IPv4, but a sender that reports the mapped form must not get around a DENY with it.
 */
export class IpWideMatcher implements Matcher {
  private readonly all = new BlockList();

  constructor(
    private readonly read: (model: RequestModel) => string,
    blocks: readonly IpBlock[],
  ) {
    for (const b of blocks) this.all.addSubnet(b.address, b.prefix, b.family);
  }

  matches(model: RequestModel): boolean {
    const ip = this.read(model);
    const version = isIP(ip);
    if (version === 0) return false;
    return this.all.check(ip, version === 4 ? "ipv4" : "ipv6");
  }
}
