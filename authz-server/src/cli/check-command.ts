/**
 * `trustgate check`: sends one real CheckRequest over gRPC, built from flags the way Envoy fills it, and prints the
 * decision. Exit code 0 allow, 1 deny, 2 error.
 */
import { buildCheckRequest } from "../extauthz/build-check-request.js";
import type { CheckRequestMessage } from "../extauthz/check-request.js";
import type { CheckResponseMessage } from "../extauthz/check-response.js";
import { CheckClient } from "../grpc/check-client.js";
import { readCertificateFile } from "./certificate-file.js";
import { describeGrpcFailure } from "./grpc-failure.js";
import { keyValuePairs } from "./key-value.js";

export interface CheckFlags {
  /** Unset: TRUSTGATE_GRPC_ADDR, else 127.0.0.1:9191. */
  addr?: string;
  principal?: string;
  certificateFile?: string;
  method: string;
  path: string;
  host?: string;
  header?: string[];
  sourceIp: string;
  destinationPrincipal?: string;
  destinationIp: string;
  port: number;
  label?: string[];
  namespace?: string;
  tcp?: boolean;
  sni?: string;
  jwtClaims?: string;
  json?: boolean;
  timeoutMs: number;
}

/** `--jwt-claims '{"iss":…}'`: a verified JWT payload as JSON (an object). */
export function jwtClaimsOf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`--jwt-claims: not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("--jwt-claims: expected a JSON object of claims");
  }
  return value as Record<string, unknown>;
}

/** The flags as a request description, turned into a CheckRequest by the same builder explain and policy tests use. */
export async function checkRequestOf(flags: CheckFlags): Promise<CheckRequestMessage> {
  const headers = keyValuePairs(flags.header ?? [], "--header");
  let certificate: string | undefined;
  if (flags.certificateFile !== undefined) {
    const read = await readCertificateFile(flags.certificateFile);
    if (!read.ok) throw new Error(read.error);
    certificate = read.pem;
  }
  return buildCheckRequest({
    source: {
      principal: flags.principal,
      ip: flags.sourceIp,
      certificate,
    },
    destination: {
      principal: flags.destinationPrincipal,
      namespace: flags.namespace,
      labels: keyValuePairs(flags.label ?? [], "--label"),
      ip: flags.destinationIp,
      port: flags.port,
    },
    tcp: flags.tcp,
    method: flags.method,
    path: flags.path,
    host: flags.host ?? headers[":authority"] ?? "localhost",
    headers,
    sni: flags.sni,
    jwt: jwtClaimsOf(flags.jwtClaims),
  });
}

export function summarize(response: CheckResponseMessage): { allowed: boolean; text: string; body: unknown } {
  const allowed = (response.status?.code ?? 0) === 0;
  const fields = response.dynamicMetadata?.fields ?? {};
  const text = (name: string) => fields[name]?.stringValue ?? "";
  if (allowed) {
    return {
      allowed,
      text: `ALLOW  policy=${text("policy")} rule=${fields.rule?.numberValue ?? -1}  decision_id=${text("decision_id")}`,
      body: null,
    };
  }
  const denied = response.deniedResponse;
  let body: unknown = denied?.body ?? "";
  try {
    body = JSON.parse(denied?.body ?? "");
  } catch {
    // keep the raw body
  }
  const b = body as { reason?: string; policy?: string; rule?: number; decision_id?: string };
  return {
    allowed,
    text: `DENY   HTTP ${denied?.status?.code ?? 403} (gRPC ${response.status.code})  policy=${b.policy} rule=${b.rule}\n       reason: ${b.reason}\n       decision_id=${b.decision_id}`,
    body,
  };
}

export async function check(flags: CheckFlags): Promise<number> {
  let request: CheckRequestMessage;
  try {
    request = await checkRequestOf(flags);
  } catch (err) {
    console.error(`trustgate check: ${(err as Error).message}`);
    return 2;
  }
  const addr = flags.addr ?? process.env.TRUSTGATE_GRPC_ADDR ?? "127.0.0.1:9191";
  let client: CheckClient;
  try {
    client = new CheckClient(addr);
  } catch (err) {
    console.error(`trustgate check: --addr ${addr}: ${(err as Error).message}`);
    return 2;
  }
  try {
    const response = await client.check(request, flags.timeoutMs);
    const summary = summarize(response);
    console.log(flags.json ? JSON.stringify({ allowed: summary.allowed, response }) : summary.text);
    return summary.allowed ? 0 : 1;
  } catch (err) {
    console.error(`trustgate check: ${describeGrpcFailure(err, addr, flags.timeoutMs)}`);
    return 2;
  } finally {
    client.close();
  }
}
