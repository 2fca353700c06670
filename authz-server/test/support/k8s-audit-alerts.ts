/**
 * `k8s_audit` alerts for tests, as Falco (`json_output: true`) writes them for the rules of the k8saudit plugin
 * (github.com/falcosecurity/plugins, plugins/k8saudit/rules/k8s_audit_rules.yaml): `output_fields` holds exactly the
 * `%ka.*` fields of the rule's output template plus `evt.time`, a field with no value is `null`, and
 * `ka.response.code` is a string. There are no container or pod (`k8s.*`) fields: the event is an API request.
 *
 * Two groups:
 *  - PUBLISHED: alerts the Falco project published, values kept: falco.org blog posts "Falco plugin for
 *    k8saudit-eks" (2023, falcosecurity/falco-website content/en/blog/falco-plugin-k8saudit-eks.md) and "Detect
 *    threats in OVHcloud MKS audit logs" (2025, content/en/blog/detect-threats-falco-ovh-mks-audit-logs-plugin), and
 *    the sample output in the k8saudit plugin's README (plugins/k8saudit/README.md, time and host filled in).
 *  - MESH: the same rules' output formats about the example mesh's workloads (the risk-server inventory).
 */

type Alert = {
  hostname: string;
  output: string;
  output_fields: Record<string, unknown>;
  priority: string;
  rule: string;
  source: string;
  tags: string[];
  time: string;
};

const AUDIT_HOST = "falco-k8saudit-7d9c6b5f4-m2x8p";

/* ---------------------------------------------------------------- published ---------------------------------------------------------------- */

/** "Attach/Exec Pod" on EKS: a person (kubernetes-admin) runs `sh` in pod default/kubecon. */
export const PUBLISHED_EXEC_EKS: Alert = {
  hostname: "falco-k8saudit-eks-96d7f6f99-vwjgc",
  output:
    "14:09:24.046826000: Notice Attach/Exec to pod (user=kubernetes-admin pod=kubecon resource=pods ns=default action=exec command=sh)",
  output_fields: {
    "evt.time": 1683727764046826000,
    "ka.target.name": "kubecon",
    "ka.target.namespace": "default",
    "ka.target.resource": "pods",
    "ka.target.subresource": "exec",
    "ka.uri.param[command]": "sh",
    "ka.user.name": "kubernetes-admin",
  },
  priority: "Notice",
  rule: "Attach/Exec Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2023-05-10T14:09:24.046826000Z",
};

/** "K8s Serviceaccount Created" on EKS: the caller is a node (`system:node:…`), not a workload. */
export const PUBLISHED_SERVICEACCOUNT_CREATED_EKS: Alert = {
  hostname: "falco-k8saudit-eks-96d7f6f99-vwjgc",
  output:
    "14:09:17.699479000: Informational K8s Serviceaccount Created (user=system:node:ip-192-168-34-135.ec2.internal serviceaccount=default ns=default resource=serviceaccounts resp=201 decision=allow reason=)",
  output_fields: {
    "evt.time": 1683727757699479000,
    "ka.auth.decision": "allow",
    "ka.auth.reason": "",
    "ka.response.code": "201",
    "ka.target.name": "default",
    "ka.target.namespace": "default",
    "ka.target.resource": "serviceaccounts",
    "ka.user.name": "system:node:ip-192-168-34-135.ec2.internal",
  },
  priority: "Informational",
  rule: "K8s Serviceaccount Created",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2023-05-10T14:09:17.699479000Z",
};

/** "Disallowed K8s User" on OVHcloud MKS: a person ("yacht") updating a node pool; names no workload and no pod. */
export const PUBLISHED_DISALLOWED_USER_OVH: Alert = {
  hostname: "my-pool-1-node-921b61",
  output:
    "09:15:57.807013000: Warning K8s Operation performed by user not in allowed list of users (user=yacht target=my-pool-1/nodepools verb=update uri=/apis/kube.cloud.ovh.com/v1alpha1/nodepools/my-pool-1/status resp=200)",
  output_fields: {
    "evt.time": 1739178957807013000,
    "ka.response.code": "200",
    "ka.target.name": "my-pool-1",
    "ka.target.resource": "nodepools",
    "ka.uri": "/apis/kube.cloud.ovh.com/v1alpha1/nodepools/my-pool-1/status",
    "ka.user.name": "yacht",
    "ka.verb": "update",
  },
  priority: "Warning",
  rule: "Disallowed K8s User",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2025-02-10T09:15:57.807013000Z",
};

/** "Attach/Exec Pod" on OVHcloud MKS: kubernetes-admin runs `cat` in a Deployment's pod in namespace hello-app. */
export const PUBLISHED_EXEC_OVH: Alert = {
  hostname: "my-pool-1-node-921b61",
  output:
    "09:29:46.302906000: Notice Attach/Exec to pod (user=kubernetes-admin pod=nginx-676b6c5bbc-4xc6t resource=pods ns=hello-app action=exec command=cat)",
  output_fields: {
    "evt.time": 1739179786302906000,
    "ka.target.name": "nginx-676b6c5bbc-4xc6t",
    "ka.target.namespace": "hello-app",
    "ka.target.resource": "pods",
    "ka.target.subresource": "exec",
    "ka.uri.param[command]": "cat",
    "ka.user.name": "kubernetes-admin",
  },
  priority: "Notice",
  rule: "Attach/Exec Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2025-02-10T09:29:46.302906000Z",
};

/**
 * "Create Privileged Pod" as the k8saudit plugin's README shows it (an earlier output template: `image=` from
 * `ka.req.container.image`): the caller is the ReplicaSet controller's service account, a control-plane workload.
 */
export const PUBLISHED_PRIVILEGED_POD_BY_REPLICASET_CONTROLLER: Alert = {
  hostname: AUDIT_HOST,
  output:
    "14:09:12.581541000: Warning Pod started with privileged container (user=system:serviceaccount:kube-system:replicaset-controller pod=nginx-deployment-5cdcc99dbf-rgw6z ns=default image=nginx)",
  output_fields: {
    "evt.time": 1795874952581541000,
    "ka.req.container.image": "nginx",
    "ka.resp.name": "nginx-deployment-5cdcc99dbf-rgw6z",
    "ka.target.namespace": "default",
    "ka.user.name": "system:serviceaccount:kube-system:replicaset-controller",
  },
  priority: "Warning",
  rule: "Create Privileged Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T14:09:12.581541000Z",
};

/* ------------------------------------------------------------------ mesh ------------------------------------------------------------------ */

/** "Attach/Exec Pod": a person opens a shell in a pod of the payment Deployment. */
export const EXEC_INTO_PAYMENT: Alert = {
  hostname: AUDIT_HOST,
  output:
    "10:00:01.250000000: Notice Attach/Exec to pod (user=alice@example.com pod=payment-6d5c4b3a2-k9j8h resource=pods ns=services action=exec command=sh)",
  output_fields: {
    "evt.time": 1795860001250000000,
    "ka.target.name": "payment-6d5c4b3a2-k9j8h",
    "ka.target.namespace": "services",
    "ka.target.resource": "pods",
    "ka.target.subresource": "exec",
    "ka.uri.param[command]": "sh",
    "ka.user.name": "alice@example.com",
  },
  priority: "Notice",
  rule: "Attach/Exec Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:01.250000000Z",
};

/** "Attach/Exec Pod" made with order's service-account token into a payment pod: two workloads at risk. */
export const ORDER_ATTACHES_TO_PAYMENT: Alert = {
  hostname: AUDIT_HOST,
  output:
    "10:00:02.000000000: Notice Attach/Exec to pod (user=system:serviceaccount:services:order pod=payment-6d5c4b3a2-k9j8h resource=pods ns=services action=attach command=<NA>)",
  output_fields: {
    "evt.time": 1795860002000000000,
    "ka.target.name": "payment-6d5c4b3a2-k9j8h",
    "ka.target.namespace": "services",
    "ka.target.resource": "pods",
    "ka.target.subresource": "attach",
    "ka.uri.param[command]": null,
    "ka.user.name": "system:serviceaccount:services:order",
  },
  priority: "Notice",
  rule: "Attach/Exec Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:02.000000000Z",
};

/** "port-forward": its output has no `ka.target.resource` (only pods have a portforward subresource). */
export const PORT_FORWARD_TO_DATABASE: Alert = {
  hostname: AUDIT_HOST,
  output:
    "10:00:03.000000000: Notice Portforward to pod (user=bob@example.com pod=database-0 ns=data action=portforward )",
  output_fields: {
    "evt.time": 1795860003000000000,
    "ka.target.name": "database-0",
    "ka.target.namespace": "data",
    "ka.target.subresource": "portforward",
    "ka.user.name": "bob@example.com",
  },
  priority: "Notice",
  rule: "port-forward",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:03.000000000Z",
};

/** "EphemeralContainers Created": `kubectl debug` into a cache pod. */
export const DEBUG_CONTAINER_IN_CACHE: Alert = {
  hostname: AUDIT_HOST,
  output:
    "10:00:04.000000000: Notice Ephemeral container is created in pod (user=bob@example.com pod=cache-0 resource=pods ns=data ephemeral_container_name=debugger-x7k2q ephemeral_container_image=busybox)",
  output_fields: {
    "evt.time": 1795860004000000000,
    "jevt.value[/requestObject/ephemeralContainers/0/image]": "busybox",
    "jevt.value[/requestObject/ephemeralContainers/0/name]": "debugger-x7k2q",
    "ka.target.name": "cache-0",
    "ka.target.namespace": "data",
    "ka.target.resource": "pods",
    "ka.target.subresource": "ephemeralcontainers",
    "ka.user.name": "bob@example.com",
  },
  priority: "Notice",
  rule: "EphemeralContainers Created",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:04.000000000Z",
};

/** "K8s Secret Get Successfully": the shop namespace's api service account reads a secret (no inventory needed). */
export const SECRET_READ_BY_SHOP_API: Alert = {
  hostname: AUDIT_HOST,
  output:
    '10:00:05.000000000: Error K8s Secret Get Successfully (user=system:serviceaccount:shop:api secret=db-credentials ns=shop resource=secrets resp=200 decision=allow reason=RBAC: allowed by RoleBinding "api-secrets/shop" of Role "secret-reader" to ServiceAccount "api/shop")',
  output_fields: {
    "evt.time": 1795860005000000000,
    "ka.auth.decision": "allow",
    "ka.auth.reason":
      'RBAC: allowed by RoleBinding "api-secrets/shop" of Role "secret-reader" to ServiceAccount "api/shop"',
    "ka.response.code": "200",
    "ka.target.name": "db-credentials",
    "ka.target.namespace": "shop",
    "ka.target.resource": "secrets",
    "ka.user.name": "system:serviceaccount:shop:api",
  },
  priority: "Error",
  rule: "K8s Secret Get Successfully",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:05.000000000Z",
};

/** "Anonymous Request Allowed": no identity at all behind the request. */
export const ANONYMOUS_REQUEST: Alert = {
  hostname: AUDIT_HOST,
  output:
    '10:00:07.000000000: Warning Request by anonymous user allowed (user=system:anonymous verb=get uri=/api/v1/namespaces reason=RBAC: allowed by ClusterRoleBinding "anonymous-view"))',
  output_fields: {
    "evt.time": 1795860007000000000,
    "ka.auth.reason": 'RBAC: allowed by ClusterRoleBinding "anonymous-view"',
    "ka.uri": "/api/v1/namespaces",
    "ka.user.name": "system:anonymous",
    "ka.verb": "get",
  },
  priority: "Warning",
  rule: "Anonymous Request Allowed",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T10:00:07.000000000Z",
};

/** A k8s_audit alert by value: `alert` with some `output_fields` replaced (null = the field has no value). */
export function withFields(alert: Alert, fields: Record<string, unknown>): Alert {
  return { ...alert, output_fields: { ...alert.output_fields, ...fields } };
}
