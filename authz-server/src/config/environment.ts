/**
 * Environment variables and the configuration key each one sets. Values are converted here (booleans, numbers,
 * comma lists) and then validated by the schema like any other value.
 */

export type Conversion = { ok: true; value: unknown } | { ok: false; error: string };

function text(_name: string, v: string): Conversion {
  return { ok: true, value: v };
}

function bool(name: string, value: string): Conversion {
  if (/^(1|true|yes|on)$/i.test(value)) return { ok: true, value: true };
  if (/^(0|false|no|off)$/i.test(value)) return { ok: true, value: false };
  return { ok: false, error: `${name}: expected true or false, got "${value}"` };
}

function num(name: string, value: string): Conversion {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    return { ok: false, error: `${name}: expected a number, got "${value}"` };
  return { ok: true, value: n };
}

function list(_name: string, value: string): Conversion {
  return {
    ok: true,
    value: value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  };
}

/** Environment variable, the config path it sets, and how its text is converted. */
export const ENVIRONMENT: ReadonlyArray<readonly [string, string, (name: string, v: string) => Conversion]> = [
  ["TRUSTGATE_GRPC_ADDR", "grpc.addr", text],
  ["TRUSTGATE_HTTP_ADDR", "http.addr", text],
  ["TRUSTGATE_ADMIN_TOKEN", "http.adminToken", text],
  ["TRUSTGATE_ADMIN_TOKEN_FILE", "http.adminTokenFile", text],
  ["TRUSTGATE_POLICY_DIR", "policies.dir", text],
  ["TRUSTGATE_POLICY_EXTRA_DIRS", "policies.extraDirs", list],
  ["TRUSTGATE_ROOT_NAMESPACE", "policies.rootNamespace", text],
  ["TRUSTGATE_POLICY_WATCH", "policies.watch", bool],
  ["TRUSTGATE_DRY_RUN", "policies.dryRun", bool],
  ["TRUSTGATE_POLICY_SOURCE", "policies.source", text],
  ["TRUSTGATE_POLICY_NAMESPACES", "policies.kubernetes.namespaces", list],
  ["TRUSTGATE_POLICY_KUBECONFIG", "policies.kubernetes.kubeconfig", text],
  ["TRUSTGATE_LEASE_NAMESPACE", "policies.kubernetes.status.leaseNamespace", text],
  ["TRUSTGATE_WEBHOOK_ADDR", "policies.kubernetes.webhook.addr", text],
  ["TRUSTGATE_WEBHOOK_CERT_FILE", "policies.kubernetes.webhook.certFile", text],
  ["TRUSTGATE_WEBHOOK_KEY_FILE", "policies.kubernetes.webhook.keyFile", text],
  ["TRUSTGATE_TRUST_DOMAINS", "identity.trustDomains", list],
  ["TRUSTGATE_TRUST_FILTER_HEADERS", "identity.trustFilterHeaders", bool],
  ["TRUSTGATE_MESH_TRUST_DOMAIN", "identity.meshTrustDomain", text],
  ["TRUSTGATE_TRUST_DOMAIN_ALIASES", "identity.trustDomainAliases", list],
  ["TRUSTGATE_JWT_ENABLED", "jwt.enabled", bool],
  ["TRUSTGATE_JWT_PAYLOAD_KEYS", "jwt.payloadKeys", list],
  ["TRUSTGATE_NUM_TRUSTED_PROXIES", "remoteIp.numTrustedProxies", num],
  ["TRUSTGATE_WORKLOADS_FILE", "workloads.file", text],
  ["TRUSTGATE_LOG_LEVEL", "log.level", text],
  ["TRUSTGATE_DECISION_LOG", "log.decisions", text],
  ["TRUSTGATE_DECISION_LOG_SAMPLE_RATE", "log.sampleRate", num],
  ["TRUSTGATE_DECISION_LOG_REDACT_HEADERS", "log.redactHeaders", list],
  ["TRUSTGATE_DECISION_LOG_ALLOW_HEADERS", "log.allowHeaders", bool],
  ["TRUSTGATE_DECISION_LOG_SHIP", "log.ship", text],
  ["TRUSTGATE_FALCO_TOKEN", "falco.token", text],
  ["TRUSTGATE_FALCO_TOKEN_FILE", "falco.tokenFile", text],
  ["TRUSTGATE_FALCO_INGEST_ADDR", "falco.ingest.addr", text],
  ["TRUSTGATE_FALCO_MAPPING", "falco.mapping.strategy", text],
  ["TRUSTGATE_FALCO_MAPPING_LABEL", "falco.mapping.label", text],
  ["TRUSTGATE_RISK_HALF_LIFE_SECONDS", "risk.halfLifeSeconds", num],
  ["TRUSTGATE_RISK_STALE_AFTER_SECONDS", "risk.staleAfterSeconds", num],
  ["TRUSTGATE_RISK_SNAPSHOT_FILE", "risk.snapshotFile", text],
  ["TRUSTGATE_REDIS_URL", "redis.url", text],
  ["TRUSTGATE_REDIS_EVENT_KEY_FILE", "redis.eventKeyFile", text],
  ["TRUSTGATE_REVOCATIONS_FILE", "revocations.file", text],
];
