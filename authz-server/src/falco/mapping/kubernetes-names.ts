/**
 * Kubernetes naming rules the mappers rely on: a namespace is an RFC 1123 label, a service account and a pod are
 * DNS-1123 subdomains. Both are always valid SPIFFE path segments, so `spiffe://<td>/ns/<ns>/sa/<sa>` built from
 * checked names is a valid ID (it is parsed again anyway before use). A request made with a service account's token
 * is made by the user `system:serviceaccount:<namespace>:<name>` (names cannot contain ':').
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

/** Pod names follow the same rule as service account names. */
export const isPodName = isServiceAccountName;

export const SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:";

export type ServiceAccountUser =
  | { readonly ok: true; readonly namespace: string; readonly serviceAccount: string }
  | { readonly ok: false; readonly error: string };

/** `system:serviceaccount:<namespace>:<name>` → its parts; call only for names with that prefix. */
export function parseServiceAccountUser(user: string): ServiceAccountUser {
  const parts = user.slice(SERVICE_ACCOUNT_USER_PREFIX.length).split(":");
  if (parts.length !== 2) return { ok: false, error: "is not system:serviceaccount:<namespace>:<name>" };
  const [namespace, serviceAccount] = parts as [string, string];
  if (!isNamespaceName(namespace)) return { ok: false, error: "names an invalid namespace" };
  if (!isServiceAccountName(serviceAccount)) return { ok: false, error: "names an invalid service account" };
  return { ok: true, namespace, serviceAccount };
}
