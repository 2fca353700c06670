/**
 * Kubernetes naming rules the mappers rely on: a namespace is an RFC 1123 label, a service account a DNS-1123
 * subdomain. Both are always valid SPIFFE path segments, so `spiffe://<td>/ns/<ns>/sa/<sa>` built from checked names
 * is a valid ID (it is parsed again anyway before use).
 */
import { parseSpiffeId } from "../../identity/spiffe-id.js";

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isNamespaceName(value: string): boolean {
  return value.length <= 63 && LABEL.test(value);
}

export function isServiceAccountName(value: string): boolean {
  return value.length <= 253 && SUBDOMAIN.test(value);
}

/** The SPIFFE ID Istio and SPIRE's k8s workload registrar give a service account, or null if a name is invalid. */
export function serviceAccountSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string | null {
  if (!isNamespaceName(namespace) || !isServiceAccountName(serviceAccount)) return null;
  const id = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  return parseSpiffeId(id).ok ? id : null;
}
