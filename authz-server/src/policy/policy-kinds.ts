/**
 * The two kinds a policy document may be: Istio's `AuthorizationPolicy` (the files of a policy directory) and
 * trustgate's own `TrustgatePolicy` custom resource, whose spec is the same. trustgate needs its own kind on a
 * cluster because istiod would enforce `security.istio.io` objects as well.
 */

export const ISTIO_KIND = "AuthorizationPolicy";
export const ISTIO_API_VERSIONS: readonly string[] = ["security.istio.io/v1", "security.istio.io/v1beta1"];

export const TRUSTGATE_GROUP = "trustgate.dev";
export const TRUSTGATE_VERSION = "v1alpha1";
export const TRUSTGATE_API_VERSION = `${TRUSTGATE_GROUP}/${TRUSTGATE_VERSION}`;
export const TRUSTGATE_KIND = "TrustgatePolicy";
export const TRUSTGATE_PLURAL = "trustgatepolicies";

export type PolicyKind = "istio" | "trustgate";

export interface KindProblem {
  readonly ok: false;
  readonly field: "kind" | "apiVersion";
  readonly message: string;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  return typeof v === "string" ? JSON.stringify(v) : typeof v;
}

/** Which kind a document is, or what is wrong with its `apiVersion`/`kind` pair. */
export function policyKind(apiVersion: unknown, kind: unknown): { ok: true; kind: PolicyKind } | KindProblem {
  if (kind === ISTIO_KIND) {
    if (typeof apiVersion === "string" && ISTIO_API_VERSIONS.includes(apiVersion)) return { ok: true, kind: "istio" };
    return {
      ok: false,
      field: "apiVersion",
      message: `apiVersion must be one of ${ISTIO_API_VERSIONS.join(", ")} for kind ${ISTIO_KIND}, got ${describe(apiVersion)}`,
    };
  }
  if (kind === TRUSTGATE_KIND) {
    if (apiVersion === TRUSTGATE_API_VERSION) return { ok: true, kind: "trustgate" };
    return {
      ok: false,
      field: "apiVersion",
      message: `apiVersion must be one of ${TRUSTGATE_API_VERSION} for kind ${TRUSTGATE_KIND}, got ${describe(apiVersion)}`,
    };
  }
  return {
    ok: false,
    field: "kind",
    message: `kind must be AuthorizationPolicy (${ISTIO_API_VERSIONS.join(", ")}) or ${TRUSTGATE_KIND} (${TRUSTGATE_API_VERSION}), got ${describe(kind)} (other kinds do not belong in the policy directory)`,
  };
}
