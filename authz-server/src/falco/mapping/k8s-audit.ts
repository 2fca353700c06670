/**
 * What a `k8s_audit` alert (Falco's k8saudit plugin and its managed-cluster variants, fed by the API server's audit
 * log) says about workloads. It describes one request to the Kubernetes API, so it can name two:
 *  - the caller: a request made with a service account's token is made by the user
 *    `system:serviceaccount:<namespace>:<name>` (`ka.user.name`), which is that workload — no inventory needed.
 *    People, nodes (`system:node:…`), the control plane and anonymous requests are not workloads.
 *  - the target pod, for the requests that reach into a running pod: `exec`, `attach`, `portforward` and
 *    `ephemeralcontainers` on `pods` (`ka.target.namespace`, `ka.target.name`). Someone got a shell, a tunnel or a
 *    debug container in it, so its workload may be compromised. A request the API server refused (a 4xx/5xx
 *    `ka.response.code`, when the rule outputs it) never reached the pod. Which workload runs the pod is the mapping
 *    strategy's business.
 */
import {
  isNamespaceName,
  isPodName,
  parseServiceAccountUser,
  SERVICE_ACCOUNT_USER_PREFIX,
  serviceAccountSpiffeId,
} from "./kubernetes-names.js";
import { type MappingOutcome, mapped, type OutputFields, unattributed, workloadValue } from "./workload-mapper.js";

/** Falco's source name for Kubernetes audit events (the k8saudit plugin and its EKS, GKE, AKS, OVH variants). */
export const K8S_AUDIT_SOURCE = "k8s_audit";

/** The pod subresources through which a request reaches into a running pod. */
const POD_ENTRY_SUBRESOURCES: ReadonlySet<string> = new Set(["exec", "attach", "portforward", "ephemeralcontainers"]);

/** Longest part of a user name quoted in a detail (OIDC user names can be long). */
const QUOTED = 128;

/** The API caller as a workload, or why it is not one. */
export function auditCaller(fields: OutputFields, trustDomain: string): MappingOutcome {
  const user = workloadValue(fields, "ka.user.name");
  if (user === null) return unattributed("unknown-workload", "the audit alert names no Kubernetes API user");
  if (!user.startsWith(SERVICE_ACCOUNT_USER_PREFIX)) {
    return unattributed("not-a-workload", `API user "${user.slice(0, QUOTED)}" is not a service account`);
  }
  const sa = parseServiceAccountUser(user);
  if (!sa.ok) return unattributed("invalid-identity", `API user "${user.slice(0, QUOTED)}" ${sa.error}`);
  const id = serviceAccountSpiffeId(trustDomain, sa.namespace, sa.serviceAccount);
  return id === null ? unattributed("invalid-identity", `API user "${user}" gives no valid SPIFFE ID`) : mapped(id);
}

export type PodTarget =
  | { readonly ok: true; readonly namespace: string; readonly pod: string }
  | { readonly ok: false; readonly outcome: MappingOutcome };

/** The pod the request reached into; null when the request targets no running pod (or was refused). */
export function auditPodTarget(fields: OutputFields): PodTarget | null {
  const subresource = workloadValue(fields, "ka.target.subresource");
  if (subresource === null || !POD_ENTRY_SUBRESOURCES.has(subresource)) return null;
  // Falco's port-forward rule does not output the resource; only pods have these subresources in Kubernetes.
  const resource = workloadValue(fields, "ka.target.resource");
  if (resource !== null && resource !== "pods") return null;
  if (refused(fields["ka.response.code"])) return null;
  const namespace = workloadValue(fields, "ka.target.namespace");
  const pod = workloadValue(fields, "ka.target.name");
  if (namespace === null || pod === null) {
    return {
      ok: false,
      outcome: unattributed("unknown-workload", `the ${subresource} request names no target namespace and pod`),
    };
  }
  if (!isNamespaceName(namespace) || !isPodName(pod)) {
    return {
      ok: false,
      outcome: unattributed(
        "invalid-identity",
        `the ${subresource} request targets "${namespace.slice(0, 64)}/${pod.slice(0, 253)}", not a valid pod`,
      ),
    };
  }
  return { ok: true, namespace, pod };
}

/** An HTTP status (Falco outputs `ka.response.code` as a string) saying the API server refused the request. */
function refused(code: unknown): boolean {
  const n = typeof code === "string" ? Number(code) : typeof code === "number" ? code : Number.NaN;
  return Number.isInteger(n) && n >= 400;
}

/**
 * What makes two audit alerts repeats of one another: the same caller doing the same thing to the same object
 * (`resource/namespace/name`), each part bounded so the key stays small whatever the alert carries.
 */
export function auditDedupTarget(fields: OutputFields): string {
  const part = (key: string) => (workloadValue(fields, key) ?? "").slice(0, 253);
  return `${part("ka.user.name")}\u0000${part("ka.target.resource")}/${part("ka.target.namespace")}/${part("ka.target.name")}`;
}
