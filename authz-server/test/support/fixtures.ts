/**
 * Test helpers: build a RequestModel the way a live Check does (through fromCheckRequest) from a compact
 * description, and a PolicySet from YAML text.
 */

import { buildCheckRequest } from "../../src/extauthz/build-check-request.js";
import type { CheckRequestMessage } from "../../src/extauthz/check-request.js";
import {
  DEFAULT_REQUEST_SETTINGS,
  fromCheckRequest,
  type RequestSettings,
} from "../../src/extauthz/from-check-request.js";
import { CertificateCache } from "../../src/identity/certificate-cache.js";
import type { RequestModel } from "../../src/model/request-model.js";
import { quietRiskView, type RiskView } from "../../src/model/risk-view.js";
import { type CompileOptions, compilePolicy } from "../../src/policy/compile-policy.js";
import type { CompiledPolicy, PolicyLoadError } from "../../src/policy/compiled.js";
import { parsePolicyText } from "../../src/policy/policy-files.js";
import { PolicySet } from "../../src/policy/policy-set.js";

export interface TestRequest {
  principal?: string;
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
  /** A verified JWT payload forwarded by jwt_authn; null forwards the namespace without a token. */
  jwt?: Record<string, unknown> | null;
  metadata?: Record<string, Record<string, unknown>>;
  /** Certificate facts, reported the way trustgate's wasm filter does (trusted in these tests). */
  fingerprint?: string;
  subject?: string;
  /** What trustgate is told about the proxy (default: DEFAULT_REQUEST_SETTINGS). */
  settings?: RequestSettings;
}

/** The CheckRequest for a test request, through the one builder; defaults describe a call to services/payment. */
export function checkRequest(r: TestRequest): CheckRequestMessage {
  return buildCheckRequest({
    source: { principal: r.principal, ip: r.sourceIp, port: 40000, fingerprint: r.fingerprint, subject: r.subject },
    destination: {
      principal: r.destinationPrincipal ?? "spiffe://cluster.local/ns/services/sa/payment",
      ip: r.destinationIp,
      port: r.destinationPort,
      labels: r.labels ?? { app: "payment" },
    },
    contextExtensions: r.contextExtensions,
    tcp: r.tcp,
    method: r.method,
    path: r.path,
    host: r.host ?? "payment.services.svc.cluster.local",
    headers: r.headers,
    sni: r.sni,
    jwt: r.jwt,
    metadata: r.metadata,
  });
}

export function model(r: TestRequest, risk: RiskView = quietRiskView): RequestModel {
  const built = fromCheckRequest(checkRequest(r), {
    identity: { trustDomains: new Set(), trustFilterHeaders: r.fingerprint !== undefined || r.subject !== undefined },
    certificates: new CertificateCache(),
    risk,
    request: r.settings ?? DEFAULT_REQUEST_SETTINGS,
    nowMs: Date.now(),
  });
  if (!built.ok) throw new Error(`test request rejected: ${built.rejection.reason}`);
  return built.model;
}

export function compileYaml(
  text: string,
  file = "test.yaml",
  options: CompileOptions = {},
): { policies: CompiledPolicy[]; errors: PolicyLoadError[] } {
  const parsed = parsePolicyText(text, file);
  const policies: CompiledPolicy[] = [];
  const errors = [...parsed.errors];
  for (const doc of parsed.documents) {
    const result = compilePolicy(doc, options);
    errors.push(...result.errors);
    if (result.policy) policies.push(result.policy);
  }
  return { policies, errors };
}

export function policySet(text: string, rootNamespace = "istio-system", options: CompileOptions = {}): PolicySet {
  const { policies, errors } = compileYaml(text, "test.yaml", options);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join("\n"));
  return new PolicySet(policies, rootNamespace, text);
}
