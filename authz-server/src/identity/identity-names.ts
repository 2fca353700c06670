/**
 * One workload, several SPIFFE IDs: with Istio trust-domain aliases (meshConfig.trustDomainAliases) the ID
 * `spiffe://<alias>/ns/a/sa/b` names the same workload as `spiffe://<mesh>/ns/a/sa/b`, and policies already read it
 * so. Falco risk and operator revocations must follow: a workload must not shed its risk or its revocation by
 * presenting its other name. Risk is kept under the mesh name (`canonical`); revocations are looked up under every
 * name, and the list the sidecars match exactly carries every name (`names`).
 */
export class IdentityNames {
  private readonly meshPrefix: string;
  /** `spiffe://<alias>/` for each alias other than the mesh trust domain. */
  private readonly aliasPrefixes: readonly string[];

  constructor(meshTrustDomain: string, aliases: readonly string[]) {
    this.meshPrefix = `spiffe://${meshTrustDomain}/`;
    this.aliasPrefixes = [...new Set(aliases)].filter((a) => a !== meshTrustDomain).map((a) => `spiffe://${a}/`);
  }

  /** Whether any ID has another name (false: every method returns the ID as given). */
  get aliased(): boolean {
    return this.aliasPrefixes.length > 0;
  }

  /** The ID under the mesh trust domain when its trust domain is an alias; otherwise the ID itself. */
  canonical(spiffeId: string): string {
    for (const prefix of this.aliasPrefixes) {
      if (spiffeId.startsWith(prefix)) return this.meshPrefix + spiffeId.slice(prefix.length);
    }
    return spiffeId;
  }

  /** Every name of the workload the ID names: the canonical ID first, then its alias forms (just the ID if none). */
  names(spiffeId: string): string[] {
    const canonical = this.canonical(spiffeId);
    if (!canonical.startsWith(this.meshPrefix) || !this.aliased) return [spiffeId];
    const rest = canonical.slice(this.meshPrefix.length);
    return [canonical, ...this.aliasPrefixes.map((prefix) => prefix + rest)];
  }
}

/** No aliases: every ID is its only name. */
export const SINGLE_NAMES = new IdentityNames("cluster.local", []);
