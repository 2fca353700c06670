/**
 * Decision → CheckResponse: the outbound half of the ext_authz translation. Pure. The status code is always set explicitly (an unset status means ALLOW to Envoy);
 * every header option carries `append: {value: false}` so Envoy overwrites rather than appends, whatever its version.
 */
import type { Decision } from "../model/decision.js";
import {
  type CheckResponseMessage,
  DECISION_ID_HEADER,
  GRPC_OK,
  GRPC_PERMISSION_DENIED,
  GRPC_UNAUTHENTICATED,
  type HeaderOption,
  type StructValue,
} from "./check-response.js";

export interface ResponseContext {
  readonly decisionId: string;
  /** The caller's verified SPIFFE ID ("" when none), for access logs. */
  readonly caller: string;
  readonly policyVersion: string;
  /** Identity headers a client forged: Envoy removes them before the request reaches the app. */
  readonly removeHeaders: readonly string[] | null;
  /** The decision dry-run policies would have made, when it differs from the enforced one's. */
  readonly shadow: Decision | null;
}

/**
 * The longest reason a response carries (UTF-16 units). A reason can quote request values (the closest rule's failed
 * fields), and it goes into the response three times: unbounded, a large header could push the response past gRPC's
 * send limit, and a send error is what Envoy's failure_mode_allow turns into an allow. The decision log keeps it whole.
 */
export const MAX_RESPONSE_REASON = 2048;

export function responseReason(reason: string): string {
  if (reason.length <= MAX_RESPONSE_REASON) return reason;
  return `${reason.slice(0, MAX_RESPONSE_REASON)}… (${reason.length - MAX_RESPONSE_REASON} more characters in the decision log)`;
}

function option(key: string, value: string): HeaderOption {
  return { header: { key, value }, append: { value: false } };
}

/** `reason`: a deny's reason as the response carries it (null for an allow). */
function metadata(d: Decision, ctx: ResponseContext, reason: string | null): { fields: Record<string, StructValue> } {
  const fields: Record<string, StructValue> = {
    decision: { stringValue: d.allowed ? "allow" : "deny" },
    policy: { stringValue: d.policy },
    rule: { numberValue: d.rule },
    decision_id: { stringValue: ctx.decisionId },
    caller: { stringValue: ctx.caller },
    policy_version: { stringValue: ctx.policyVersion },
  };
  if (reason !== null) fields.reason = { stringValue: reason };
  if (ctx.shadow !== null) {
    fields.shadow_decision = { stringValue: ctx.shadow.allowed ? "allow" : "deny" };
    fields.shadow_policy = { stringValue: ctx.shadow.policy };
  }
  return { fields };
}

function denyBody(d: Decision, decisionId: string, reason: string): string {
  return JSON.stringify({
    decision: "deny",
    reason,
    policy: d.policy,
    rule: d.rule,
    decision_id: decisionId,
  });
}

export function toCheckResponse(d: Decision, ctx: ResponseContext): CheckResponseMessage {
  if (d.allowed) {
    const okResponse: CheckResponseMessage["okResponse"] = { headers: [option(DECISION_ID_HEADER, ctx.decisionId)] };
    if (ctx.removeHeaders !== null && ctx.removeHeaders.length > 0) okResponse.headersToRemove = [...ctx.removeHeaders];
    return { status: { code: GRPC_OK }, okResponse, dynamicMetadata: metadata(d, ctx, null) };
  }
  const unauthenticated = d.outcome === "unauthenticated";
  const reason = responseReason(d.reason);
  return {
    status: {
      code: unauthenticated ? GRPC_UNAUTHENTICATED : GRPC_PERMISSION_DENIED,
      message: reason,
    },
    deniedResponse: {
      status: { code: unauthenticated ? 401 : 403 },
      headers: [option("content-type", "application/json"), option(DECISION_ID_HEADER, ctx.decisionId)],
      body: denyBody(d, ctx.decisionId, reason),
    },
    dynamicMetadata: metadata(d, ctx, reason),
  };
}
