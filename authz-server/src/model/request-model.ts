/**
 * Everything a policy can ask about one request, in the form policies match against. Built once per Check by
 * `fromCheckRequest`; risk is looked up lazily, only when a policy reads it, and at most once per side.
 */
import type { RiskAssessment, RiskView } from "./risk-view.js";

export interface SourceFacts {
  readonly ip: string;
  readonly port: number;
  /** Full SPIFFE ID (`spiffe://td/path`) or "" without identity. */
  readonly principal: string;
  /** The principal without `spiffe://`, the form Istio policies are written in. */
  readonly principalBody: string;
  readonly trustDomain: string;
  /** Kubernetes namespace from the `/ns/<ns>/sa/<sa>` convention, "" otherwise. */
  readonly namespace: string;
  /** `<namespace>/<serviceaccount>`, "" otherwise. */
  readonly serviceAccount: string;
  readonly certificateFingerprint: string;
  readonly certificateSubject: string;
  readonly mtls: boolean;
}

export interface DestinationFacts {
  readonly ip: string;
  readonly port: number;
  readonly principal: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface HttpFacts {
  readonly method: string;
  /** Normalised path without query (see path.ts). */
  readonly path: string;
  /** The request target as Envoy sent it, query included. */
  readonly target: string;
  /** Lower-cased `:authority`. */
  readonly host: string;
  /** Lower-cased header names; absent headers read as "". */
  readonly headers: Readonly<Record<string, string>>;
}

export class RequestModel {
  private sourceRisk: RiskAssessment | undefined;
  private destinationRisk: RiskAssessment | undefined;

  constructor(
    readonly source: SourceFacts,
    readonly destination: DestinationFacts,
    /** null for a TCP (network filter) check, which carries no HTTP request. */
    readonly http: HttpFacts | null,
    readonly sni: string,
    private readonly risk: RiskView,
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

  header(name: string): string {
    const headers = this.http?.headers;
    return headers !== undefined && Object.hasOwn(headers, name) ? headers[name]! : "";
  }
}
