/**
 * Configuration → the settings the policy compiler and the CheckRequest translation take: what the mesh and the proxy
 * in front of trustgate are like (facts a policy file or a CheckRequest does not carry by itself).
 */
import type { Config } from "../config/schema.js";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import type { CompileOptions } from "../policy/compile-policy.js";

export function requestSettingsOf(config: Config): RequestSettings {
  return { numTrustedProxies: config.remoteIp.numTrustedProxies, jwt: config.jwt };
}

export function compileOptionsOf(config: Config): CompileOptions {
  return {
    meshTrustDomain: config.identity.meshTrustDomain,
    trustDomainAliases: config.identity.trustDomainAliases,
  };
}
