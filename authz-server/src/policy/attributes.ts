/**
 * The request attributes policies can match on, and how each is read from the request model. Source/Operation
 * fields and `when` keys both compile to one of these, so evaluation is a switch on a small integer.
 */
import type { RequestModel } from "../model/request-model.js";

export enum Attribute {
  SourcePrincipal,
  SourceNamespace,
  SourceServiceAccount,
  SourceTrustDomain,
  SourceIp,
  SourceCertificateFingerprint,
  SourceCertificateSubject,
  DestinationIp,
  DestinationPort,
  Host,
  Method,
  Path,
  Header,
  Sni,
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
    attribute === Attribute.Header
  );
}

/** Attributes that need an authenticated caller: without one they compare against "". */
export function isIdentity(attribute: Attribute): boolean {
  return (
    attribute === Attribute.SourcePrincipal ||
    attribute === Attribute.SourceNamespace ||
    attribute === Attribute.SourceServiceAccount ||
    attribute === Attribute.SourceTrustDomain ||
    attribute === Attribute.SourceCertificateFingerprint ||
    attribute === Attribute.SourceCertificateSubject
  );
}

export function isRisk(attribute: Attribute): boolean {
  return attribute >= Attribute.SourceRiskLevel;
}

/** Reads an attribute's value; `header` is the lower-cased header name for Attribute.Header. */
export function readAttribute(model: RequestModel, attribute: Attribute, header: string): string {
  switch (attribute) {
    case Attribute.SourcePrincipal:
      return model.source.principalBody;
    case Attribute.SourceNamespace:
      return model.source.namespace;
    case Attribute.SourceServiceAccount:
      return model.source.serviceAccount;
    case Attribute.SourceTrustDomain:
      return model.source.trustDomain;
    case Attribute.SourceIp:
      return model.source.ip;
    case Attribute.SourceCertificateFingerprint:
      return model.source.certificateFingerprint;
    case Attribute.SourceCertificateSubject:
      return model.source.certificateSubject;
    case Attribute.DestinationIp:
      return model.destination.ip;
    case Attribute.DestinationPort:
      return model.destination.port === 0 ? "" : String(model.destination.port);
    case Attribute.Host:
      return model.http?.host ?? "";
    case Attribute.Method:
      return model.http?.method ?? "";
    case Attribute.Path:
      return model.http?.path ?? "";
    case Attribute.Header:
      return model.header(header);
    case Attribute.Sni:
      return model.sni;
    case Attribute.SourceRiskLevel:
      return model.sourceRiskAssessment().level;
    case Attribute.SourceAlert:
      return model.sourceRiskAssessment().highestAlert;
    case Attribute.DestinationRiskLevel:
      return model.destinationRiskAssessment().level;
    case Attribute.DestinationAlert:
      return model.destinationRiskAssessment().highestAlert;
    case Attribute.FalcoFeed:
      return model.feed();
  }
}
