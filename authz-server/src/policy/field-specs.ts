/**
 * Which fields and `when` keys exist, what each reads and how its values are validated. Lookups are on Maps: a key
 * a policy author writes (`toString`, `constructor`, `__proto__`) can never resolve to something inherited.
 */
import { FALCO_PRIORITIES, NO_ALERT, RISK_LEVELS } from "../model/risk-view.js";
import { Attribute } from "./attributes.js";

export type ValueKind =
  | "principal"
  | "namespace"
  | "serviceAccount"
  | "trustDomain"
  | "sourceIp"
  | "remoteIp"
  | "destinationIp"
  | "port"
  | "host"
  | "method"
  | "path"
  | "header"
  | "requestPrincipal"
  | "claim"
  | "metadata"
  | "sni"
  | "fingerprint"
  | "subject"
  | "callerTrustDomain"
  | "enum";

export interface FieldSpec {
  readonly attribute: Attribute;
  readonly kind: ValueKind;
  readonly negate: boolean;
}

function fields(entries: ReadonlyArray<readonly [string, Attribute, ValueKind]>): ReadonlyMap<string, FieldSpec> {
  const map = new Map<string, FieldSpec>();
  for (const [name, attribute, kind] of entries) {
    map.set(name, { attribute, kind, negate: false });
    map.set(`not${name[0]!.toUpperCase()}${name.slice(1)}`, { attribute, kind, negate: true });
  }
  return map;
}

export const SOURCE_FIELDS = fields([
  ["principals", Attribute.SourcePrincipal, "principal"],
  ["requestPrincipals", Attribute.RequestPrincipal, "requestPrincipal"],
  ["namespaces", Attribute.SourceNamespace, "namespace"],
  ["serviceAccounts", Attribute.SourceServiceAccount, "serviceAccount"],
  ["trustDomains", Attribute.SourceTrustDomain, "trustDomain"],
  ["ipBlocks", Attribute.SourceIp, "sourceIp"],
  ["remoteIpBlocks", Attribute.RemoteIp, "remoteIp"],
]);

export const OPERATION_FIELDS = fields([
  ["hosts", Attribute.Host, "host"],
  ["ports", Attribute.DestinationPort, "port"],
  ["methods", Attribute.Method, "method"],
  ["paths", Attribute.Path, "path"],
]);

export const RISK_LEVEL_VALUES: readonly string[] = RISK_LEVELS;
export const ALERT_VALUES: readonly string[] = [...FALCO_PRIORITIES, NO_ALERT];

export interface ConditionSpec {
  readonly attribute: Attribute;
  readonly kind: ValueKind;
  /** Header name, filter namespace or claim path (joined with "."), "" otherwise. */
  readonly key: string;
  /** JWT claim path, or the metadata key for experimental keys. */
  readonly path: readonly string[];
  /** Allowed values for kind "enum". */
  readonly allowed: readonly string[] | null;
}

const PLAIN_KEYS = new Map<string, [Attribute, ValueKind]>([
  ["source.ip", [Attribute.SourceIp, "sourceIp"]],
  ["remote.ip", [Attribute.RemoteIp, "remoteIp"]],
  ["source.namespace", [Attribute.SourceNamespace, "namespace"]],
  ["source.principal", [Attribute.SourcePrincipal, "principal"]],
  ["source.serviceAccount", [Attribute.SourceServiceAccount, "serviceAccount"]],
  ["source.trustDomain", [Attribute.SourceTrustDomain, "trustDomain"]],
  ["request.auth.principal", [Attribute.RequestPrincipal, "requestPrincipal"]],
  ["destination.ip", [Attribute.DestinationIp, "destinationIp"]],
  ["destination.port", [Attribute.DestinationPort, "port"]],
  ["connection.sni", [Attribute.Sni, "sni"]],
  // trustgate's own keys
  ["source.certificate_fingerprint", [Attribute.SourceCertificateFingerprint, "fingerprint"]],
  ["source.certificate_subject", [Attribute.SourceCertificateSubject, "subject"]],
  ["source.trust_domain", [Attribute.CallerTrustDomain, "callerTrustDomain"]],
]);

const CLAIM_KEYS = new Map<string, string>([
  ["request.auth.audiences", "aud"],
  ["request.auth.presenter", "azp"],
]);

const ENUM_KEYS = new Map<string, [Attribute, readonly string[]]>([
  ["custom.falco_risk_score", [Attribute.SourceRiskLevel, RISK_LEVEL_VALUES]],
  ["custom.falco_alert", [Attribute.SourceAlert, ALERT_VALUES]],
  ["custom.destination_falco_risk_score", [Attribute.DestinationRiskLevel, RISK_LEVEL_VALUES]],
  ["custom.destination_falco_alert", [Attribute.DestinationAlert, ALERT_VALUES]],
  ["custom.falco_feed", [Attribute.FalcoFeed, ["fresh", "stale"]]],
]);

/** The keys istiod knows but refuses, with its reason. */
const ISTIO_REFUSED = new Map<string, string>([
  ["destination.namespace", "attribute destination.namespace is replaced by the policy's metadata.namespace"],
  ["destination.name", "deprecated attribute destination.name: only supported in v1alpha1"],
  ["destination.user", "deprecated attribute destination.user: only supported in v1alpha1"],
]);

export const SUPPORTED_KEYS = [
  "request.headers[<name>]",
  ...PLAIN_KEYS.keys(),
  ...CLAIM_KEYS.keys(),
  "request.auth.claims[<name>]…",
  "experimental.envoy.filters.<filter>[<key>]",
  ...ENUM_KEYS.keys(),
];

/** Envoy's header-name rule (an optional leading `:` for pseudo-headers, then token characters). */
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;

/** istiod's shape check for `a[b]` keys: ends with `]`, with a non-empty name after the first `[`. */
function isMapKey(key: string): boolean {
  const open = key.indexOf("[");
  return key.endsWith("]") && open > 0 && open < key.length - 2;
}

/** istiod's `extractNameInNestedBrackets`: `[a][b]` → [a, b]; `[a.b]` → [a.b]; anything else as one name. */
export function nestedBracketNames(s: string): string[] | null {
  const names: string[] = [];
  let begin = 0;
  while (begin < s.length) {
    if (s[begin] !== "[") break;
    let end = -1;
    for (let i = begin + 1; i < s.length; i++) {
      if (s[i] === "[") break;
      if (s[i] === "]") {
        end = i;
        break;
      }
    }
    if (end === -1) break;
    names.push(s.slice(begin + 1, end));
    begin = end + 1;
  }
  if (begin === s.length && names.length > 0) return names;
  return s.startsWith("[") && s.endsWith("]") ? [s.slice(1, -1)] : null;
}

export type ConditionKeyResult =
  | { ok: true; spec: ConditionSpec }
  | { ok: false; error: string }
  /**
   * istiod's validation accepts the key but its generator cannot build a matcher from it: an ALLOW rule holding it is
   * skipped, a DENY or AUDIT rule loses the condition (model.go `checkError`).
   */
  | { ok: "unbuildable"; reason: string };

/** `request.headersX[y]`: the shape istiod validates (`a[b]`), but no name right after the prefix. */
function unbuildable(key: string, prefix: string): ConditionKeyResult {
  return {
    ok: "unbuildable",
    reason: `istiod accepts the key ${key} but builds no matcher from it (write ${prefix}[<name>])`,
  };
}

function spec(attribute: Attribute, kind: ValueKind, key = "", path: readonly string[] = []): ConditionKeyResult {
  return { ok: true, spec: { attribute, kind, key, path, allowed: null } };
}

export function conditionKey(key: string): ConditionKeyResult {
  const plain = PLAIN_KEYS.get(key);
  if (plain) return spec(plain[0], plain[1]);
  const claim = CLAIM_KEYS.get(key);
  if (claim !== undefined) return spec(Attribute.RequestClaim, "claim", claim, [claim]);
  const enumerated = ENUM_KEYS.get(key);
  if (enumerated) {
    return { ok: true, spec: { attribute: enumerated[0], kind: "enum", key: "", path: [], allowed: enumerated[1] } };
  }
  const refused = ISTIO_REFUSED.get(key);
  if (refused !== undefined) return { ok: false, error: refused };
  if (key.startsWith("destination.labels")) {
    return { ok: false, error: `attribute ${key} is replaced by the workload selector` };
  }
  if (key.startsWith("request.headers")) {
    if (!isMapKey(key)) return { ok: false, error: `bad key (${key}): should have format request.headers[<name>]` };
    const rest = key.slice("request.headers".length);
    if (!rest.startsWith("[")) return unbuildable(key, "request.headers");
    const name = rest.slice(1, -1);
    if (!HEADER_NAME.test(name)) {
      return { ok: false, error: `"${name}" is not a valid header name (Envoy refuses it)` };
    }
    return spec(Attribute.Header, "header", name.toLowerCase());
  }
  if (key.startsWith("request.auth.claims")) {
    if (!isMapKey(key)) return { ok: false, error: `bad key (${key}): should have format request.auth.claims[<name>]` };
    const names = nestedBracketNames(key.slice("request.auth.claims".length));
    if (names === null) return unbuildable(key, "request.auth.claims");
    return spec(Attribute.RequestClaim, "claim", names.join("."), names);
  }
  if (key.startsWith("experimental.envoy.filters.")) {
    const inner = key.slice("experimental.".length);
    const open = inner.indexOf("[");
    if (!isMapKey(key) || open === -1) {
      return { ok: false, error: `bad key (${key}): should have format experimental.envoy.filters.<filter>[<key>]` };
    }
    return spec(Attribute.FilterMetadata, "metadata", inner.slice(0, open), [inner.slice(open + 1, -1)]);
  }
  return {
    ok: false,
    error: `unknown condition key "${key}" (supported: ${SUPPORTED_KEYS.join(", ")})`,
  };
}
