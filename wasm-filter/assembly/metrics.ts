// Filter metrics, defined through proxy_define_metric. Envoy exposes them under its custom Wasm
// stats namespace (e.g. Prometheus envoy_wasmcustom_trustgate_filter_requests_total).
// A metric the host refuses to define stays 0 and is skipped: metrics never fail a request.
import { LogLevel, MetricType, Status } from "./abi";
import { defineMetric, incrementMetric, log, newHostU32, recordMetric } from "./hostcalls";

const definedId = newHostU32();

export class Metrics {
  requests: u32 = 0;
  mtlsMissing: u32 = 0;
  spoofedHeadersRemoved: u32 = 0;
  localDenies: u32 = 0;
  deniesRequireMtls: u32 = 0;
  deniesTrustDomain: u32 = 0;
  deniesRevoked: u32 = 0;
  deniesInvalidIdentity: u32 = 0;
  revocationListVersion: u32 = 0;
  revocationListEntries: u32 = 0;
  revocationPolls: u32 = 0;
  revocationPollFailures: u32 = 0;
}

export const metrics = new Metrics();
let defined = false;

function define(type: MetricType, name: string): u32 {
  const status = defineMetric(type, String.UTF8.encode(name), definedId);
  if (status != Status.Ok) {
    log(LogLevel.Warn, "trustgate: could not define metric " + name + " (status " + status.toString() + ")");
    return 0;
  }
  return definedId.value;
}

/** Defines every metric once per VM (all root contexts of the VM share them). */
export function defineMetrics(): void {
  if (defined) return;
  defined = true;
  const p = "trustgate_filter_";
  metrics.requests = define(MetricType.Counter, p + "requests_total");
  metrics.mtlsMissing = define(MetricType.Counter, p + "mtls_missing_total");
  metrics.spoofedHeadersRemoved = define(MetricType.Counter, p + "spoofed_headers_removed_total");
  metrics.localDenies = define(MetricType.Counter, p + "local_denies_total");
  metrics.deniesRequireMtls = define(MetricType.Counter, p + "local_denies_require_mtls_total");
  metrics.deniesTrustDomain = define(MetricType.Counter, p + "local_denies_trust_domain_total");
  metrics.deniesRevoked = define(MetricType.Counter, p + "local_denies_revoked_total");
  metrics.deniesInvalidIdentity = define(MetricType.Counter, p + "local_denies_invalid_identity_total");
  metrics.revocationListVersion = define(MetricType.Gauge, p + "revocation_list_version");
  metrics.revocationListEntries = define(MetricType.Gauge, p + "revocation_list_entries");
  metrics.revocationPolls = define(MetricType.Counter, p + "revocation_polls_total");
  metrics.revocationPollFailures = define(MetricType.Counter, p + "revocation_poll_failures_total");
}

export function increment(id: u32, delta: i64 = 1): void {
  if (id != 0 && delta > 0) incrementMetric(id, delta);
}

export function record(id: u32, value: u64): void {
  if (id != 0) recordMetric(id, value);
}
