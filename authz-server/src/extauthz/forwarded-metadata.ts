/**
 * The dynamic metadata Envoy forwards in `attributes.metadata_context` (only for the filter namespaces its ext_authz
 * filter lists in `metadata_context_namespaces`), and the verified JWT payloads in it.
 *
 * Envoy's jwt_authn filter writes each verified token's payload under `envoy.filters.http.jwt_authn`, at the key its
 * `payload_in_metadata` names (Istio uses `payload`). Every entry there is taken as a verified payload unless
 * `payloadKeys` names the ones to use. Without that namespace the request has no verified token — when trustgate is
 * told Envoy forwards it (`enabled`); otherwise nobody can say, and JWT fields are unknown.
 */
import type { JsonObject } from "../model/json-value.js";
import { isJsonObject } from "../model/json-value.js";
import type { JwtFacts } from "../model/request-model.js";
import type { MetadataMessage } from "./check-request.js";
import { structToJson } from "./struct-value.js";

export const JWT_AUTHN_NAMESPACE = "envoy.filters.http.jwt_authn";

export interface JwtSettings {
  /** Envoy runs jwt_authn before ext_authz and forwards its metadata namespace. */
  readonly enabled: boolean;
  /** Only these `payload_in_metadata` keys hold payloads; empty = every entry. */
  readonly payloadKeys: readonly string[];
}

export const NO_JWT: JwtFacts = Object.freeze({ payloads: Object.freeze([]) });
const NO_METADATA: Readonly<Record<string, JsonObject>> = Object.freeze(Object.create(null));

export type MetadataResult =
  | { ok: true; metadata: Readonly<Record<string, JsonObject>>; jwt: JwtFacts | null }
  | { ok: false; error: string };

export function forwardedMetadata(message: MetadataMessage | null | undefined, jwt: JwtSettings): MetadataResult {
  const namespaces = message?.filterMetadata;
  let metadata = NO_METADATA;
  if (namespaces) {
    for (const name of Object.keys(namespaces)) {
      const converted = structToJson(namespaces[name]);
      if (!converted.ok) return { ok: false, error: `metadata_context ${JSON.stringify(name)}: ${converted.error}` };
      if (metadata === NO_METADATA) metadata = Object.create(null) as Record<string, JsonObject>;
      (metadata as Record<string, JsonObject>)[name] = converted.value;
    }
  }
  if (!Object.hasOwn(metadata, JWT_AUTHN_NAMESPACE)) return { ok: true, metadata, jwt: jwt.enabled ? NO_JWT : null };
  const entries = metadata[JWT_AUTHN_NAMESPACE]!;
  const keys =
    jwt.payloadKeys.length > 0 ? jwt.payloadKeys.filter((k) => Object.hasOwn(entries, k)) : Object.keys(entries);
  const payloads: JsonObject[] = [];
  for (const key of keys) {
    const payload = entries[key];
    if (isJsonObject(payload)) payloads.push(payload);
  }
  return { ok: true, metadata, jwt: payloads.length === 0 ? NO_JWT : { payloads } };
}
