// CustomResourceDefinitions: (1) their openAPIV3Schema is structural, as the API server requires of apiextensions.k8s.io/v1
// CRDs (every node has a type, properties and additionalProperties never together, junctors without types or
// defaults, only JSONSchemaProps keywords, defaults that validate); (2) custom objects are validated against it the
// way the API server does with strict field validation (kubectl's default): the schema through Ajv, with fields the
// schema does not list reported as unknown. The install's own CRDs (istio/base/crd-*.yaml) are read here, so
// TrustgatePolicy objects anywhere in envoy-configs are checked against exactly what the cluster will enforce.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import YAML from "yaml";
import { childPath, type Issue } from "./issues.js";

type Obj = Record<string, unknown>;

const istioDir = join(dirname(fileURLToPath(import.meta.url)), "..", "istio");

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The keywords a JSONSchemaProps may use (from the client-node model of the Kubernetes API). */
const SCHEMA_KEYWORDS = new Set(
  (k8s.V1JSONSchemaProps as unknown as { getAttributeTypeMap(): Array<{ baseName: string }> })
    .getAttributeTypeMap()
    .map((a) => a.baseName),
);
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);
const JUNCTORS = ["allOf", "anyOf", "oneOf"] as const;
/** Inside allOf/anyOf/oneOf/not, a structural schema only restricts values further. */
const FORBIDDEN_IN_JUNCTORS = ["type", "description", "default", "additionalProperties", "nullable"];

function checkNode(node: unknown, path: string, issues: Issue[], inJunctor: boolean): void {
  if (!isObj(node)) {
    issues.push({ path, message: "a schema must be an object" });
    return;
  }
  for (const key of Object.keys(node)) {
    if (!SCHEMA_KEYWORDS.has(key))
      issues.push({ path: childPath(path, key), message: `unknown schema keyword "${key}"` });
  }
  if (inJunctor) {
    for (const key of FORBIDDEN_IN_JUNCTORS) {
      if (key in node)
        issues.push({ path: childPath(path, key), message: `"${key}" is not allowed inside allOf/anyOf/oneOf/not` });
    }
  } else {
    const free = node["x-kubernetes-int-or-string"] === true || node["x-kubernetes-preserve-unknown-fields"] === true;
    if (typeof node.type !== "string" || !TYPES.has(node.type)) {
      if (!free) issues.push({ path, message: "every node of a structural schema needs a type" });
    }
  }
  if (node.properties !== undefined && node.additionalProperties !== undefined) {
    issues.push({ path, message: "properties and additionalProperties are mutually exclusive in a structural schema" });
  }
  if (node.items !== undefined && !isObj(node.items)) {
    issues.push({ path: childPath(path, "items"), message: "items must be one schema" });
  }
  if (node["x-kubernetes-list-type"] === "map") {
    const keys = node["x-kubernetes-list-map-keys"];
    const itemProps = isObj(node.items) && isObj(node.items.properties) ? node.items.properties : {};
    const required = isObj(node.items) && Array.isArray(node.items.required) ? node.items.required : [];
    if (!Array.isArray(keys) || keys.length === 0) issues.push({ path, message: "list-type map needs list-map-keys" });
    else {
      for (const k of keys) {
        if (!(String(k) in itemProps) || !required.includes(k))
          issues.push({ path, message: `list-map-key "${k}" must be a required property of the items` });
      }
    }
  }
  if (isObj(node.properties)) {
    for (const [k, v] of Object.entries(node.properties))
      checkNode(v, childPath(childPath(path, "properties"), k), issues, false);
  }
  if (isObj(node.additionalProperties))
    checkNode(node.additionalProperties, childPath(path, "additionalProperties"), issues, false);
  if (isObj(node.items)) checkNode(node.items, childPath(path, "items"), issues, inJunctor);
  for (const j of JUNCTORS) {
    const list = node[j];
    if (list === undefined) continue;
    if (!Array.isArray(list)) issues.push({ path: childPath(path, j), message: `${j} must be a list of schemas` });
    else {
      list.forEach((s, i) => {
        checkNode(s, childPath(childPath(path, j), i), issues, true);
      });
    }
  }
  if (node.not !== undefined) checkNode(node.not, childPath(path, "not"), issues, true);
  if (Array.isArray(node.required) && isObj(node.properties)) {
    for (const r of node.required) {
      if (!(String(r) in node.properties) && !inJunctor)
        issues.push({ path: childPath(path, "required"), message: `required property "${r}" is not in properties` });
    }
  }
}

/** JSON Schema for Ajv with the API server's reading: fields a schema does not list are unknown (errors). */
function toAjvSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toAjvSchema);
  if (!isObj(node)) return node;
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-kubernetes-") || k === "nullable") continue;
    if (k === "properties" && isObj(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, toAjvSchema(s)]));
    } else if (k === "default" || k === "enum" || k === "example") out[k] = v;
    else out[k] = toAjvSchema(v);
  }
  if (node.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  const open = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node.type === "object" && isObj(node.properties) && node.additionalProperties === undefined && !open) {
    out.additionalProperties = false;
  }
  return out;
}

function defaultsValidate(node: unknown, path: string, ajv: Ajv, issues: Issue[]): void {
  if (!isObj(node)) return;
  if (node.default !== undefined) {
    const { default: value, ...rest } = node;
    const validate = ajv.compile(toAjvSchema(rest) as object);
    if (!validate(value))
      issues.push({
        path: childPath(path, "default"),
        message: "the default does not validate against its own schema",
      });
  }
  if (isObj(node.properties)) {
    for (const [k, v] of Object.entries(node.properties))
      defaultsValidate(v, childPath(childPath(path, "properties"), k), ajv, issues);
  }
  if (isObj(node.items)) defaultsValidate(node.items, childPath(path, "items"), ajv, issues);
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // ajv-formats is CommonJS: its function is the module's default export's default.
  (formats as unknown as { default: (ajv: Ajv) => void }).default(ajv);
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  return ajv;
}

/** Structural-schema and printer-column checks of one CRD (on top of the built-in model check of its fields). */
export function checkCrdSchemas(crd: unknown, path = ""): Issue[] {
  const issues: Issue[] = [];
  if (!isObj(crd) || !isObj(crd.spec) || !Array.isArray(crd.spec.versions)) return [{ path, message: "not a CRD" }];
  const ajv = newAjv();
  crd.spec.versions.forEach((v: unknown, i: number) => {
    const at = childPath(childPath(childPath(path, "spec"), "versions"), i);
    if (!isObj(v)) return;
    const schema = isObj(v.schema) ? v.schema.openAPIV3Schema : undefined;
    const schemaPath = childPath(childPath(at, "schema"), "openAPIV3Schema");
    if (schema === undefined) {
      issues.push({ path: schemaPath, message: "apiextensions.k8s.io/v1 requires a schema" });
      return;
    }
    checkNode(schema, schemaPath, issues, false);
    defaultsValidate(schema, schemaPath, ajv, issues);
    try {
      ajv.compile(toAjvSchema(schema) as object);
    } catch (err) {
      issues.push({ path: schemaPath, message: `not a valid JSON schema: ${(err as Error).message}` });
    }
    const columns = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns : [];
    columns.forEach((c: unknown, j: number) => {
      const colPath = childPath(childPath(at, "additionalPrinterColumns"), j);
      if (!isObj(c)) return;
      if (!["integer", "number", "string", "boolean", "date"].includes(String(c.type)))
        issues.push({ path: childPath(colPath, "type"), message: `unknown column type ${String(c.type)}` });
      if (typeof c.jsonPath !== "string" || !c.jsonPath.startsWith("."))
        issues.push({ path: childPath(colPath, "jsonPath"), message: "a column's jsonPath starts with '.'" });
    });
  });
  return issues;
}

// ---- custom objects against the install's CRDs ----------------------------------------------------------

interface CustomKind {
  readonly namespaced: boolean;
  readonly validate: ValidateFunction;
}

let customKinds: Map<string, CustomKind> | null = null;

/** The CRD files of the install (istio/base/crd-*.yaml). */
export function installCrdFiles(): string[] {
  const base = join(istioDir, "base");
  return readdirSync(base)
    .filter((f) => /^crd-.*\.yaml$/.test(f))
    .map((f) => join(base, f));
}

function loadCustomKinds(): Map<string, CustomKind> {
  if (customKinds) return customKinds;
  customKinds = new Map();
  const ajv = newAjv();
  for (const file of installCrdFiles()) {
    const crd = YAML.parse(readFileSync(file, "utf8")) as Obj;
    const spec = crd.spec as Obj;
    const names = spec.names as Obj;
    for (const v of spec.versions as Obj[]) {
      const schema = (v.schema as Obj).openAPIV3Schema;
      customKinds.set(`${spec.group}/${v.name}/${names.kind}`, {
        namespaced: spec.scope === "Namespaced",
        validate: ajv.compile(toAjvSchema(schema) as object),
      });
    }
  }
  return customKinds;
}

export function isInstallCustomKind(apiVersion: string, kind: string): boolean {
  return loadCustomKinds().has(`${apiVersion}/${kind}`);
}

function ajvIssue(e: ErrorObject, base: string): Issue {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((acc, seg) => childPath(acc, /^\d+$/.test(seg) ? Number(seg) : seg), base);
  if (e.keyword === "additionalProperties") {
    const field = String(e.params.additionalProperty);
    return { path: childPath(path, field), message: `unknown field "${field}"` };
  }
  if (e.keyword === "enum") {
    return {
      path,
      message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
    };
  }
  return { path, message: e.message ?? e.keyword };
}

/** Validates an object of a kind the install's CRDs define, as the API server would (strict field validation). */
export function validateCustomObject(obj: Obj, path = ""): Issue[] {
  const kind = loadCustomKinds().get(`${String(obj.apiVersion)}/${String(obj.kind)}`);
  if (!kind)
    return [{ path, message: `${String(obj.apiVersion)} ${String(obj.kind)} is not defined by the install's CRDs` }];
  const issues: Issue[] = [];
  if (!kind.validate(obj)) {
    // anyOf reports each branch; one line saying what is needed is clearer.
    const errors = kind.validate.errors ?? [];
    const seen = new Set<string>();
    for (const e of errors) {
      const issue =
        e.keyword === "anyOf"
          ? { ...ajvIssue(e, path), message: "needs one of the alternatives (e.g. values or notValues)" }
          : ajvIssue(e, path);
      if (
        e.keyword === "required" &&
        errors.some((o) => o.keyword === "anyOf" && e.schemaPath.startsWith(o.schemaPath))
      )
        continue;
      const id = `${issue.path}|${issue.message}`;
      if (!seen.has(id)) {
        seen.add(id);
        issues.push(issue);
      }
    }
  }
  return issues;
}
