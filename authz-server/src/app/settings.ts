/**
 * Configuration → the settings the policy compiler and the CheckRequest translation take: what the mesh and the proxy
 * in front of trustgate are like (facts a policy file or a CheckRequest does not carry by itself).
 */
import type { Config } from "../config/schema.js";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import { IdentityNames } from "../identity/identity-names.js";
import type { CompileOptions } from "../policy/compile-policy.js";

export function requestSettingsOf(config: Config): RequestSettings {
  return { numTrustedProxies: config.remoteIp.numTrustedProxies, jwt: config.jwt };
}

/** A workload's SPIFFE IDs across the mesh's trust-domain aliases (for risk and revocations). */
export function identityNamesOf(config: Config): IdentityNames {
  return new IdentityNames(config.identity.meshTrustDomain, config.identity.trustDomainAliases);
}

export function compileOptionsOf(config: Config): CompileOptions {
  return {
    meshTrustDomain: config.identity.meshTrustDomain,
    trustDomainAliases: config.identity.trustDomainAliases,
  };
}

/** The names a user sets the gRPC listen address with, for start-up errors (the single process's and workers'). */
export const GRPC_ADDR_SETTING = "--grpc-addr (or TRUSTGATE_GRPC_ADDR, grpc.addr)";
