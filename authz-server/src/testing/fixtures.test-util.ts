/**
 * Test helpers: build a RequestModel the way a live Check does (through fromCheckRequest) from a compact
 * description, and a PolicySet from YAML text.
 */
import { CertificateCache } from "../identity/certificate-cache.js";
import { compilePolicy } from "../policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../policy/compiled.js";
import { parsePolicyText } from "../policy/policy-files.js";
import { PolicySet } from "../policy/policy-set.js";
import type { CheckRequestMessage } from "../request/check-request.js";
import { fromCheckRequest } from "../request/from-check-request.js";
import type { RequestModel } from "../request/request-model.js";
import { quietRiskView, type RiskView } from "../risk/risk-view.js";

export interface TestRequest {
  principal?: string;
  certificate?: string;
  sourceIp?: string;
  destinationPrincipal?: string;
  destinationIp?: string;
  destinationPort?: number;
  labels?: Record<string, string>;
  contextExtensions?: Record<string, string>;
  /** Omit `http` entirely for a TCP check. */
  tcp?: boolean;
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  sni?: string;
}

export function checkRequest(r: TestRequest): CheckRequestMessage {
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: r.sourceIp ?? "10.0.0.1", portValue: 40000 } },
        principal: r.principal ?? "",
        certificate: r.certificate ?? "",
      },
      destination: {
        address: { socketAddress: { address: r.destinationIp ?? "10.0.0.2", portValue: r.destinationPort ?? 8080 } },
        principal: r.destinationPrincipal ?? "spiffe://cluster.local/ns/services/sa/payment",
        labels: r.labels ?? { app: "payment" },
      },
      request: r.tcp
        ? null
        : {
            http: {
              method: r.method ?? "GET",
              path: r.path ?? "/",
              host: r.host ?? "payment.services.svc.cluster.local",
              headers: { ":method": r.method ?? "GET", ":path": r.path ?? "/", ...(r.headers ?? {}) },
            },
          },
      contextExtensions: r.contextExtensions ?? {},
      tlsSession: r.sni ? { sni: r.sni } : null,
    },
  };
}

export function model(r: TestRequest, risk: RiskView = quietRiskView): RequestModel {
  const built = fromCheckRequest(checkRequest(r), {
    identity: { trustDomains: new Set(), trustFilterHeaders: false },
    certificates: new CertificateCache(),
    risk,
    nowMs: Date.now(),
  });
  if (!built.ok) throw new Error(`test request rejected: ${built.rejection.reason}`);
  return built.model;
}

export function compileYaml(
  text: string,
  file = "test.yaml",
): { policies: CompiledPolicy[]; errors: PolicyLoadError[] } {
  const parsed = parsePolicyText(text, file);
  const policies: CompiledPolicy[] = [];
  const errors = [...parsed.errors];
  for (const doc of parsed.documents) {
    const result = compilePolicy(doc);
    errors.push(...result.errors);
    if (result.policy) policies.push(result.policy);
  }
  return { policies, errors };
}

export function policySet(text: string, rootNamespace = "istio-system"): PolicySet {
  const { policies, errors } = compileYaml(text);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("\n"));
  return new PolicySet(policies, rootNamespace, text);
}
