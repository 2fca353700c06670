/**
 * The request attributes policies can match on, and which of them a request can leave unknown. Source/Operation
 * fields and `when` keys all compile to one of these.
 */
import type { RequestModel } from "../model/request-model.js";

export enum Attribute {
  SourcePrincipal,
  SourceNamespace,
  SourceServiceAccount,
  /** Istio's `trustDomains` / `source.trustDomain` (over the SPIFFE ID). */
  SourceTrustDomain,
  /** trustgate's `source.trust_domain` (the caller's trust domain as a string). */
  CallerTrustDomain,
  SourceIp,
  RemoteIp,
  RequestPrincipal,
  RequestClaim,
  SourceCertificateFingerprint,
  SourceCertificateSubject,
  DestinationIp,
  DestinationPort,
  Host,
  Method,
  Path,
  Header,
  Sni,
  FilterMetadata,
  SourceRiskLevel,
  SourceAlert,
  DestinationRiskLevel,
  DestinationAlert,
  FalcoFeed,
}

/** Attributes that exist only for HTTP requests (Istio: "HTTP only"). */
export function isHttpOnly(attribute: Attribute): boolean {
  return (
    attribute === Attribute.Host ||
    attribute === Attribute.Method ||
    attribute === Attribute.Path ||
    attribute === Attribute.Header ||
    attribute === Attribute.RequestPrincipal ||
    attribute === Attribute.RequestClaim
  );
}

/** Attributes that need an authenticated caller (they never match a caller without mTLS identity). */
export function isIdentity(attribute: Attribute): boolean {
  return (
    attribute === Attribute.SourcePrincipal ||
    attribute === Attribute.SourceNamespace ||
    attribute === Attribute.SourceServiceAccount ||
    attribute === Attribute.SourceTrustDomain ||
    attribute === Attribute.CallerTrustDomain ||
    attribute === Attribute.SourceCertificateFingerprint ||
    attribute === Attribute.SourceCertificateSubject
  );
}

export function isRisk(attribute: Attribute): boolean {
  return attribute >= Attribute.SourceRiskLevel;
}

/**
 * Whether the request tells the value Istio's RBAC would see. When it does not, a check in an ALLOW rule fails and a
 * check in a DENY (or AUDIT) rule counts as matched, whatever its polarity — Istio's own treatment of HTTP-only
 * fields on TCP, applied to every fact a CheckRequest can lack. `key` is the filter namespace for FilterMetadata.
 */
export function isKnown(model: RequestModel, attribute: Attribute, key: string): boolean {
  if (model.http === null && isHttpOnly(attribute)) return false;
  switch (attribute) {
    case Attribute.Sni:
      return model.sni !== null;
    case Attribute.RequestPrincipal:
    case Attribute.RequestClaim:
      return model.jwt !== null;
    case Attribute.SourceCertificateFingerprint:
    case Attribute.SourceCertificateSubject:
      return model.source.certificateKnown;
    case Attribute.FilterMetadata:
      return model.filterMetadata(key) !== undefined;
    default:
      return true;
  }
}

/** Why an attribute is unknown, for explanations. */
export function unknownReason(model: RequestModel, attribute: Attribute): string {
  if (model.http === null && isHttpOnly(attribute)) return "HTTP-only field on a TCP request";
  switch (attribute) {
    case Attribute.Sni:
      return "the CheckRequest carries no TLS session (Envoy include_tls_session)";
    case Attribute.RequestPrincipal:
    case Attribute.RequestClaim:
      return "no JWT metadata is forwarded (jwt.enabled is off and the request has no envoy.filters.http.jwt_authn metadata)";
    case Attribute.SourceCertificateFingerprint:
    case Attribute.SourceCertificateSubject:
      return "nothing reported the caller's certificate (no source.certificate, no trusted filter headers)";
    case Attribute.FilterMetadata:
      return "Envoy did not forward that filter's metadata";
    default:
      return "unknown";
  }
}
