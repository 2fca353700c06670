/**
 * Everything a policy can ask about one request, in the form policies match against. Built once per Check by
 * `fromCheckRequest`; risk, the remote IP and the path's alternative readings are worked out lazily, only when a
 * policy reads them, and at most once.
 *
 * Some facts may be missing from a CheckRequest although the proxy knows them (Envoy sends the TLS session only with
 * `include_tls_session`, JWT payloads only when asked to forward the jwt_authn metadata). Those are `null` here:
 * unknown, which policy evaluation treats differently from "absent".
 */
import type { JsonObject } from "./json-value.js";
import { remoteIpOf } from "./remote-ip.js";
import type { RiskAssessment, RiskView } from "./risk-view.js";

export interface SourceFacts {
  readonly ip: string;
  readonly port: number;
  /** Full SPIFFE ID (`spiffe://td/path`) or "" without identity (a plaintext caller). */
  readonly principal: string;
  readonly trustDomain: string;
  readonly certificateFingerprint: string;
  readonly certificateSubject: string;
  /**
   * False when the caller has an identity but nothing reported its certificate (no `source.certificate`, no trusted
   * filter headers): fingerprint and subject are then unknown rather than empty.
   */
  readonly certificateKnown: boolean;
  readonly mtls: boolean;
}

export interface DestinationFacts {
  readonly ip: string;
  readonly port: number;
  readonly principal: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Whether anything told the destination's labels (the inventory, the pod watch, the sidecar's own labels or label
   * hints). When nothing did, a policy's selector can be neither matched nor ruled out.
   */
  readonly labelsKnown: boolean;
}

export interface HttpFacts {
  readonly method: string;
  /** The path as Envoy sent it, without query and fragment: what Istio's path matchers compare. */
  readonly path: string;
  /** The request target as Envoy sent it, query included. */
  readonly target: string;
  /** `:authority`, ASCII lower-cased. */
  readonly host: string;
  /** Lower-cased header names (no prototype); a header that was not sent is absent, not "". */
  readonly headers: Readonly<Record<string, string>>;
}

/** Verified JWT payloads forwarded by Envoy's jwt_authn filter; empty when the request carried no valid token. */
export interface JwtFacts {
  readonly payloads: readonly JsonObject[];
}

export interface RequestSettings {
  /** How many right-most `x-forwarded-for` entries were added by trusted proxies (Envoy `xff_num_trusted_hops`). */
  readonly numTrustedProxies: number;
}

export class RequestModel {
  private sourceRisk: RiskAssessment | undefined;
  private destinationRisk: RiskAssessment | undefined;
  private remote: string | undefined;
  private pathReadingsCache: readonly string[] | undefined;

  constructor(
    readonly source: SourceFacts,
    readonly destination: DestinationFacts,
    /** null for a TCP (network filter) check, which carries no HTTP request. */
    readonly http: HttpFacts | null,
    /** The TLS session's SNI ("" without one); null when the CheckRequest carries no TLS session at all. */
    readonly sni: string | null,
    /** null when the JWT payloads are unknown (Envoy is not forwarding them). */
    readonly jwt: JwtFacts | null,
    /** Forwarded dynamic metadata by filter namespace (`metadata_context`); no prototype. */
    private readonly metadata: Readonly<Record<string, JsonObject>>,
    private readonly risk: RiskView,
    private readonly settings: RequestSettings,
  ) {}

  sourceRiskAssessment(): RiskAssessment {
    if (this.sourceRisk === undefined) this.sourceRisk = this.risk.assess(this.source.principal);
    return this.sourceRisk;
  }

  destinationRiskAssessment(): RiskAssessment {
    if (this.destinationRisk === undefined) this.destinationRisk = this.risk.assess(this.destination.principal);
    return this.destinationRisk;
  }

  feed(): string {
    return this.risk.feed();
  }

  /** A request header's value (repeated headers comma-joined), or undefined when it was not sent. */
  header(name: string): string | undefined {
    const headers = this.http?.headers;
    return headers !== undefined && Object.hasOwn(headers, name) ? headers[name] : undefined;
  }

  /** One filter namespace of the forwarded dynamic metadata, or undefined when Envoy did not send it. */
  filterMetadata(namespace: string): JsonObject | undefined {
    return Object.hasOwn(this.metadata, namespace) ? this.metadata[namespace] : undefined;
  }

  /** The client address Envoy's RBAC would call `remote.ip` (see remote-ip.ts). */
  remoteIp(): string {
    if (this.remote === undefined) {
      this.remote =
        this.http === null
          ? this.source.ip
          : remoteIpOf(this.header("x-forwarded-for"), this.source.ip, this.settings.numTrustedProxies);
    }
    return this.remote;
  }

  /** Other readings of the path (computed once by `compute`), for matchers that close path traps in DENY rules. */
  pathReadings(compute: (path: string) => readonly string[]): readonly string[] {
    if (this.pathReadingsCache === undefined) this.pathReadingsCache = compute(this.http?.path ?? "");
    return this.pathReadingsCache;
  }
}
