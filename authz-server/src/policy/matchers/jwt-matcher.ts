/**
 * JWT fields, read from the verified payloads Envoy's jwt_authn filter forwards (never from the token itself), and
 * matched as istiod's metadata matchers match them:
 *  - `request.auth.claims[a][b]`, `request.auth.audiences` (`aud`), `request.auth.presenter` (`azp`): the claim at
 *    that path is a string that matches, or a list with a string element that matches; numbers, booleans and
 *    objects never match.
 *  - `requestPrincipals`, `request.auth.principal`: each value is split at its last `/` into issuer and subject,
 *    matched separately against the `iss` and `sub` strings (Istio ≥ 1.22).
 * Several payloads (one per `payload_in_metadata` key) match when any of them does.
 */
import { isJsonObject, type JsonObject, type JsonValue, ownValue } from "../../model/json-value.js";
import type { RequestModel } from "../../model/request-model.js";
import { type Pattern, PatternSet } from "./istio-pattern.js";
import type { Matcher } from "./matcher.js";

export function valueAt(object: JsonObject, path: readonly string[]): JsonValue | undefined {
  let value: JsonValue | undefined = object;
  for (const key of path) {
    if (!isJsonObject(value)) return undefined;
    value = ownValue(value, key);
  }
  return value;
}

/** A string value, or a list with a string element, that the patterns match (Envoy's list `one_of` or string). */
export function stringOrListMatches(value: JsonValue | undefined, set: PatternSet): boolean {
  if (typeof value === "string") return set.test(value);
  if (Array.isArray(value)) {
    for (const item of value as readonly JsonValue[]) if (typeof item === "string" && set.test(item)) return true;
  }
  return false;
}

export class ClaimMatcher implements Matcher {
  private readonly set: PatternSet;

  constructor(
    private readonly path: readonly string[],
    patterns: readonly Pattern[],
  ) {
    this.set = new PatternSet(patterns, { anyIncludesEmpty: false });
  }

  matches(model: RequestModel): boolean {
    const jwt = model.jwt;
    if (jwt === null) return false;
    for (const payload of jwt.payloads) if (stringOrListMatches(valueAt(payload, this.path), this.set)) return true;
    return false;
  }
}

type Part = { kind: "any" } | { kind: "exact" | "prefix" | "suffix"; value: string };

function partMatches(part: Part, value: JsonValue | undefined): boolean {
  if (typeof value !== "string") return false;
  switch (part.kind) {
    case "any":
      return value !== "";
    case "exact":
      return value === part.value;
    case "prefix":
      return value.startsWith(part.value);
    case "suffix":
      return value.endsWith(part.value);
  }
}

/** istiod's requestPrincipals generator: the issuer and subject matcher of one value. */
export function requestPrincipalParts(value: string): { iss: Part; sub: Part } {
  const any: Part = { kind: "any" };
  const slash = value.lastIndexOf("/");
  const found = slash >= 0;
  const iss = found ? value.slice(0, slash) : value;
  const sub = found ? value.slice(slash + 1) : "";
  if (value === "*") return { iss: any, sub: any };
  if (value.startsWith("*")) {
    if (found) {
      return {
        iss: iss === "*" ? any : { kind: "suffix", value: iss.slice(1) },
        sub: { kind: "exact", value: sub },
      };
    }
    return { iss: any, sub: { kind: "suffix", value: value.slice(1) } };
  }
  if (value.endsWith("*")) {
    if (found) {
      return {
        iss: { kind: "exact", value: iss },
        sub: sub === "*" ? any : { kind: "prefix", value: sub.slice(0, -1) },
      };
    }
    return { iss: { kind: "prefix", value: value.slice(0, -1) }, sub: any };
  }
  return { iss: { kind: "exact", value: iss }, sub: { kind: "exact", value: sub } };
}

export class RequestPrincipalMatcher implements Matcher {
  private readonly parts: ReadonlyArray<{ iss: Part; sub: Part }>;

  constructor(values: readonly string[]) {
    this.parts = values.map(requestPrincipalParts);
  }

  matches(model: RequestModel): boolean {
    const jwt = model.jwt;
    if (jwt === null) return false;
    for (const payload of jwt.payloads) {
      const iss = ownValue(payload, "iss");
      const sub = ownValue(payload, "sub");
      for (const p of this.parts) if (partMatches(p.iss, iss) && partMatches(p.sub, sub)) return true;
    }
    return false;
  }
}

/**
 * `experimental.envoy.filters.<filter>[<key>]`: the string at `key` of that filter's forwarded metadata, or, for a
 * value written `[v]`, an element of the list there.
 */
export class FilterMetadataMatcher implements Matcher {
  private readonly scalar: PatternSet;
  private readonly list: PatternSet;
  private readonly hasScalar: boolean;
  private readonly hasList: boolean;

  constructor(
    private readonly filter: string,
    private readonly key: string,
    scalar: readonly Pattern[],
    list: readonly Pattern[],
  ) {
    this.scalar = new PatternSet(scalar, { anyIncludesEmpty: false });
    this.list = new PatternSet(list, { anyIncludesEmpty: false });
    this.hasScalar = scalar.length > 0;
    this.hasList = list.length > 0;
  }

  matches(model: RequestModel): boolean {
    const metadata = model.filterMetadata(this.filter);
    if (metadata === undefined) return false;
    const value = ownValue(metadata, this.key);
    if (this.hasScalar && typeof value === "string" && this.scalar.test(value)) return true;
    if (this.hasList && Array.isArray(value)) {
      for (const item of value as readonly JsonValue[])
        if (typeof item === "string" && this.list.test(item)) return true;
    }
    return false;
  }
}
