// Kubernetes built-in kinds: field names and JSON types checked against the model metadata that
// @kubernetes/client-node generates from the Kubernetes OpenAPI spec (every field of every built-in type),
// plus the required fields of the types the install uses (the metadata does not carry `required`).
// Unknown fields are errors, as with `kubectl apply --validate=strict` (the default since kubectl 1.27).
import * as k8s from "@kubernetes/client-node";
import { childPath, type Issue } from "./issues.js";

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

type ModelClass = { getAttributeTypeMap(): Attribute[] };

/** apiVersion + kind → the client-node model of the object. */
const KINDS: Record<string, string> = {
  "v1/Namespace": "V1Namespace",
  "v1/ServiceAccount": "V1ServiceAccount",
  "v1/ConfigMap": "V1ConfigMap",
  "v1/Secret": "V1Secret",
  "v1/Service": "V1Service",
  "v1/Pod": "V1Pod",
  "apps/v1/Deployment": "V1Deployment",
  "apps/v1/DaemonSet": "V1DaemonSet",
  "policy/v1/PodDisruptionBudget": "V1PodDisruptionBudget",
  "networking.k8s.io/v1/NetworkPolicy": "V1NetworkPolicy",
  "rbac.authorization.k8s.io/v1/ClusterRole": "V1ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "V1ClusterRoleBinding",
  "rbac.authorization.k8s.io/v1/Role": "V1Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "V1RoleBinding",
  "apiextensions.k8s.io/v1/CustomResourceDefinition": "V1CustomResourceDefinition",
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": "V1ValidatingWebhookConfiguration",
  "coordination.k8s.io/v1/Lease": "V1Lease",
};

/** Required fields of the types the manifests use (from the Kubernetes API reference). */
const REQUIRED: Record<string, string[]> = {
  V1Container: ["name", "image"],
  V1PodSpec: ["containers"],
  V1DeploymentSpec: ["selector", "template"],
  V1ServicePort: ["port"],
  V1ContainerPort: ["containerPort"],
  V1EnvVar: ["name"],
  V1Volume: ["name"],
  V1VolumeMount: ["name", "mountPath"],
  V1KeyToPath: ["key", "path"],
  V1LabelSelectorRequirement: ["key", "operator"],
  V1PolicyRule: ["verbs"],
  V1RoleRef: ["apiGroup", "kind", "name"],
  RbacV1Subject: ["kind", "name"],
  V1GRPCAction: ["port"],
  V1HTTPGetAction: ["port"],
  V1TCPSocketAction: ["port"],
  V1SeccompProfile: ["type"],
  V1CustomResourceDefinitionSpec: ["group", "names", "scope", "versions"],
  V1CustomResourceDefinitionNames: ["kind", "plural"],
  V1CustomResourceDefinitionVersion: ["name", "served", "storage"],
  V1CustomResourceColumnDefinition: ["name", "type", "jsonPath"],
  V1ValidatingWebhook: ["name", "clientConfig", "sideEffects", "admissionReviewVersions"],
  AdmissionregistrationV1ServiceReference: ["namespace", "name"],
  V1RuleWithOperations: [],
  V1SecretKeySelector: ["key"],
  V1ConfigMapKeySelector: ["key"],
  V1ObjectFieldSelector: ["fieldPath"],
};

/** Kinds whose objects live in a namespace (the rest are cluster-scoped). */
const CLUSTER_SCOPED = new Set([
  "v1/Namespace",
  "rbac.authorization.k8s.io/v1/ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
  "apiextensions.k8s.io/v1/CustomResourceDefinition",
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration",
]);

export function builtinModel(apiVersion: string, kind: string): string | undefined {
  return KINDS[`${apiVersion}/${kind}`];
}

export function isClusterScoped(apiVersion: string, kind: string): boolean {
  return CLUSTER_SCOPED.has(`${apiVersion}/${kind}`);
}

function modelClass(name: string): ModelClass | undefined {
  const cls = (k8s as unknown as Record<string, unknown>)[name];
  return typeof cls === "function" && "getAttributeTypeMap" in cls ? (cls as unknown as ModelClass) : undefined;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

const QUANTITY_MAPS = new Set(["limits", "requests", "overhead", "hard", "capacity"]);

function checkType(type: string, value: unknown, path: string, key: string, issues: Issue[]): void {
  if (value === null) return; // null clears a field in Kubernetes
  if (type === "any" || type === "object") return;
  if (type === "string" || type === "Date") {
    if (typeof value !== "string") issues.push({ path, message: `expected a string, got ${describe(value)}` });
    return;
  }
  if (type === "number") {
    if (typeof value !== "number") issues.push({ path, message: `expected a number, got ${describe(value)}` });
    return;
  }
  if (type === "boolean") {
    if (typeof value !== "boolean") issues.push({ path, message: `expected true or false, got ${describe(value)}` });
    return;
  }
  if (type === "IntOrString") {
    if (typeof value !== "string" && !Number.isInteger(value)) {
      issues.push({ path, message: `expected an integer or a string, got ${describe(value)}` });
    }
    return;
  }
  const arrayOf = /^Array<(.+)>$/.exec(type);
  if (arrayOf) {
    if (!Array.isArray(value)) {
      issues.push({ path, message: `expected a list, got ${describe(value)}` });
      return;
    }
    value.forEach((item, i) => {
      checkType(arrayOf[1] as string, item, childPath(path, i), key, issues);
    });
    return;
  }
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapOf) {
    if (typeof value !== "object" || Array.isArray(value)) {
      issues.push({ path, message: `expected a map, got ${describe(value)}` });
      return;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // resource quantities may be written as plain numbers (cpu: 1)
      if (QUANTITY_MAPS.has(key) && typeof v === "number") continue;
      checkType(mapOf[1] as string, v, childPath(path, k), k, issues);
    }
    return;
  }
  checkModel(type, value, path, issues);
}

/** Checks an object against a client-node model by name (e.g. "V1Deployment"). */
export function checkModel(model: string, value: unknown, path: string, issues: Issue[]): void {
  const cls = modelClass(model);
  if (!cls) {
    issues.push({ path, message: `no schema for ${model} (not checked)` });
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    issues.push({ path, message: `expected an object (${model}), got ${describe(value)}` });
    return;
  }
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a]));
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const attr = attrs.get(key);
    const at = childPath(path, key);
    if (!attr) {
      issues.push({ path: at, message: `unknown field "${key}" in ${model}` });
      continue;
    }
    checkType(attr.type, v, at, key, issues);
  }
  for (const req of REQUIRED[model] ?? []) {
    if ((value as Record<string, unknown>)[req] === undefined) {
      issues.push({ path: childPath(path, req), message: `required field "${req}" is missing in ${model}` });
    }
  }
}

/** Validates a built-in object; returns undefined when the kind is not a built-in this checker knows. */
export function validateBuiltin(obj: Record<string, unknown>, path = ""): Issue[] | undefined {
  const model = builtinModel(String(obj.apiVersion), String(obj.kind));
  if (!model) return undefined;
  const issues: Issue[] = [];
  checkModel(model, obj, path, issues);
  const meta = obj.metadata as Record<string, unknown> | undefined;
  if (typeof meta?.name !== "string" || meta.name === "") {
    issues.push({ path: childPath(path, "metadata.name"), message: "metadata.name is required" });
  }
  return issues;
}
