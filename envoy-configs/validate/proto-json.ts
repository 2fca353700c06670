// A strict proto3-JSON checker: walks a plain JSON/YAML value against a protobufjs message type the way
// Envoy's config loader would read it, but refuses everything Envoy would refuse and a little more:
// unknown fields, wrong JSON types, unknown enum names, unknown `@type` URLs, two members of one oneof,
// deprecated fields and enum values, null values, and every protoc-gen-validate rule of the field options.
import protobuf from "protobufjs";
import { parseDuration } from "./duration.js";
import { childPath, type Issue } from "./issues.js";
import { checkFieldRules, fieldRules, type JsonScalarKind } from "./pgv.js";

export interface CheckContext {
  root: protobuf.Root;
  issues: Issue[];
  /** Accept only lowerCamel JSON names (Kubernetes CRDs such as Istio's), not the proto field names. */
  jsonNamesOnly?: boolean;
  /** A partial message (an EnvoyFilter MERGE patch): rules about absent fields are not applied. */
  partial?: boolean;
}

type Json = unknown;

const INT32_KINDS = new Set(["int32", "sint32", "sfixed32"]);
const UINT32_KINDS = new Set(["uint32", "fixed32"]);
const INT64_KINDS = new Set(["int64", "sint64", "sfixed64"]);
const UINT64_KINDS = new Set(["uint64", "fixed64"]);
const FLOAT_KINDS = new Set(["float", "double"]);

/** google.protobuf wrapper messages are written as their bare value; the wrapped scalar kind of each. */
const WRAPPERS: Record<string, JsonScalarKind> = {
  ".google.protobuf.DoubleValue": "double",
  ".google.protobuf.FloatValue": "float",
  ".google.protobuf.Int64Value": "int64",
  ".google.protobuf.UInt64Value": "uint64",
  ".google.protobuf.Int32Value": "int32",
  ".google.protobuf.UInt32Value": "uint32",
  ".google.protobuf.BoolValue": "bool",
  ".google.protobuf.StringValue": "string",
  ".google.protobuf.BytesValue": "bytes",
};

/** Well-known types whose JSON form is not an object of their fields; inside an Any they sit under "value". */
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS),
  ".google.protobuf.Duration",
  ".google.protobuf.Timestamp",
  ".google.protobuf.Struct",
  ".google.protobuf.Value",
  ".google.protobuf.ListValue",
  ".google.protobuf.FieldMask",
]);

const TYPED_STRUCTS = new Set([".udpa.type.v1.TypedStruct", ".xds.type.v3.TypedStruct"]);

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** proto3 JSON name: lowerCamelCase of the field name (what protoc emits as json_name). */
export function jsonName(fieldName: string): string {
  return fieldName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function isPlainObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function listNames(names: string[]): string {
  return names.length <= 12 ? names.join(", ") : `${names.slice(0, 12).join(", ")}, … (${names.length} values)`;
}

function describe(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Finds the field of `type` that a JSON key names (either the proto name or its lowerCamel JSON name). */
function fieldForKey(type: protobuf.Type, key: string, jsonNamesOnly: boolean): protobuf.Field | undefined {
  const direct = type.fields[key];
  if (direct && (!jsonNamesOnly || jsonName(direct.name) === key)) return direct;
  return type.fieldsArray.find((f) => jsonName(f.name) === key);
}

/** Checks `value` as a message of `type`; problems are appended to ctx.issues. */
export function checkMessage(ctx: CheckContext, type: protobuf.Type, value: Json, path: string): void {
  const special = type.fullName;
  if (WRAPPERS[special]) {
    checkScalar(ctx, WRAPPERS[special] as JsonScalarKind, value, path);
    return;
  }
  switch (special) {
    case ".google.protobuf.Any":
      checkAny(ctx, value, path);
      return;
    case ".google.protobuf.Duration":
      if (typeof value !== "string" || parseDuration(value) === null) {
        ctx.issues.push({ path, message: `expected a duration string like "0.25s", got ${describe(value)}` });
      }
      return;
    case ".google.protobuf.Timestamp":
      if (typeof value !== "string" || !TIMESTAMP_RE.test(value)) {
        ctx.issues.push({ path, message: `expected an RFC 3339 timestamp, got ${describe(value)}` });
      }
      return;
    case ".google.protobuf.Struct":
      if (!isPlainObject(value))
        ctx.issues.push({ path, message: `expected an object (Struct), got ${describe(value)}` });
      return;
    case ".google.protobuf.ListValue":
      if (!Array.isArray(value))
        ctx.issues.push({ path, message: `expected a list (ListValue), got ${describe(value)}` });
      return;
    case ".google.protobuf.Value":
      return; // any JSON value
    case ".google.protobuf.FieldMask":
      if (typeof value !== "string")
        ctx.issues.push({ path, message: `expected a field mask string, got ${describe(value)}` });
      return;
  }
  if (!isPlainObject(value)) {
    ctx.issues.push({ path, message: `expected an object (${type.fullName.slice(1)}), got ${describe(value)}` });
    return;
  }
  checkFields(ctx, type, value, path, new Set());
}

/** Checks the keys of an object against the fields of `type`, skipping keys in `skip` (e.g. "@type"). */
function checkFields(
  ctx: CheckContext,
  type: protobuf.Type,
  value: Record<string, Json>,
  path: string,
  skip: ReadonlySet<string>,
): void {
  const seen = new Map<string, string>(); // field name -> key used
  for (const [key, fieldValue] of Object.entries(value)) {
    if (skip.has(key)) continue;
    const keyPath = childPath(path, key);
    const field = fieldForKey(type, key, ctx.jsonNamesOnly === true);
    if (!field) {
      const snake = ctx.jsonNamesOnly && type.fields[key] ? ` (write it as "${jsonName(key)}")` : "";
      ctx.issues.push({ path: keyPath, message: `unknown field "${key}" in ${type.fullName.slice(1)}${snake}` });
      continue;
    }
    const previous = seen.get(field.name);
    if (previous !== undefined) {
      ctx.issues.push({ path: keyPath, message: `field "${field.name}" is set twice (as "${previous}" and "${key}")` });
      continue;
    }
    seen.set(field.name, key);
    if (field.options?.deprecated === true) {
      ctx.issues.push({ path: keyPath, message: `field "${field.name}" is deprecated in the Envoy/xDS API` });
    }
    if (fieldValue === null) {
      ctx.issues.push({ path: keyPath, message: "null is not a value here; leave the field out instead" });
      continue;
    }
    checkField(ctx, field, fieldValue, keyPath);
  }

  for (const oneof of type.oneofsArray) {
    if (oneof.name.startsWith("_")) continue; // synthetic oneof of a proto3 `optional` field
    const set = oneof.fieldsArray.filter((f) => seen.has(f.name));
    if (set.length > 1) {
      ctx.issues.push({
        path,
        message: `only one of ${oneof.fieldsArray.map((f) => f.name).join(", ")} may be set (oneof ${oneof.name}), got ${set.map((f) => f.name).join(" and ")}`,
      });
    }
    if (set.length === 0 && oneof.options?.["(validate.required)"] === true && !rulesDisabled(type) && !ctx.partial) {
      ctx.issues.push({
        path,
        message: `one of ${oneof.fieldsArray.map((f) => f.name).join(", ")} is required (oneof ${oneof.name})`,
      });
    }
  }

  if (rulesDisabled(type)) return;
  if (ctx.partial) {
    for (const [name, key] of seen) {
      const field = type.fields[name] as protobuf.Field;
      const rules = fieldRules(field);
      if (rules) checkFieldRules(ctx.issues, field, rules, value[key], childPath(path, key));
    }
    return;
  }
  // protoc-gen-validate also judges fields that are absent: proto3 scalars by their default value,
  // repeated fields as empty lists, messages only when marked required.
  for (const field of type.fieldsArray) {
    const key = seen.get(field.name);
    const rules = fieldRules(field);
    if (!rules) continue;
    const present = key !== undefined;
    if (!present && field.partOf) continue; // an unset oneof member or proto3 `optional` is not judged
    const fieldPath = childPath(path, key ?? field.name);
    checkFieldRules(ctx.issues, field, rules, present ? value[key as string] : undefined, fieldPath);
  }
}

function rulesDisabled(type: protobuf.Type): boolean {
  return type.options?.["(validate.disabled)"] === true || type.options?.["(validate.ignored)"] === true;
}

function checkField(ctx: CheckContext, field: protobuf.Field, value: Json, path: string): void {
  if (field instanceof protobuf.MapField) {
    if (!isPlainObject(value)) {
      ctx.issues.push({ path, message: `expected an object (map of ${field.type}), got ${describe(value)}` });
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      const entryPath = childPath(path, k);
      checkMapKey(ctx, field.keyType, k, entryPath);
      if (v === null) {
        ctx.issues.push({ path: entryPath, message: "null is not a value here" });
        continue;
      }
      checkSingle(ctx, field, v, entryPath);
    }
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) {
      ctx.issues.push({ path, message: `expected a list for repeated field "${field.name}", got ${describe(value)}` });
      return;
    }
    value.forEach((item, i) => {
      const itemPath = childPath(path, i);
      if (item === null) ctx.issues.push({ path: itemPath, message: "null is not a value here" });
      else checkSingle(ctx, field, item, itemPath);
    });
    return;
  }
  checkSingle(ctx, field, value, path);
}

function checkSingle(ctx: CheckContext, field: protobuf.Field, value: Json, path: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    checkMessage(ctx, resolved, value, path);
  } else if (resolved instanceof protobuf.Enum) {
    checkEnum(ctx, resolved, value, path);
  } else {
    checkScalar(ctx, field.type as JsonScalarKind, value, path);
  }
}

function checkMapKey(ctx: CheckContext, keyType: string, key: string, path: string): void {
  if (keyType === "string") return;
  if (keyType === "bool" && (key === "true" || key === "false")) return;
  if (keyType !== "bool" && /^-?\d+$/.test(key)) return;
  ctx.issues.push({ path, message: `map key "${key}" is not a valid ${keyType}` });
}

function checkEnum(ctx: CheckContext, enumType: protobuf.Enum, value: Json, path: string): void {
  let name: string | undefined;
  if (typeof value === "string") {
    if (!(value in enumType.values)) {
      ctx.issues.push({
        path,
        message: `unknown value "${value}" for enum ${enumType.fullName.slice(1)} (expected one of ${listNames(Object.keys(enumType.values))})`,
      });
      return;
    }
    name = value;
  } else if (typeof value === "number" && Number.isInteger(value)) {
    name = enumType.valuesById[value];
    if (name === undefined) {
      ctx.issues.push({ path, message: `number ${value} is not a value of enum ${enumType.fullName.slice(1)}` });
      return;
    }
  } else {
    ctx.issues.push({
      path,
      message: `expected an enum name of ${enumType.fullName.slice(1)}, got ${describe(value)}`,
    });
    return;
  }
  if (enumType.valuesOptions?.[name]?.deprecated === true) {
    ctx.issues.push({ path, message: `enum value ${name} of ${enumType.fullName.slice(1)} is deprecated` });
  }
}

/** Range of an integer kind, and whether the JSON may carry it as a decimal string. */
function integerInRange(kind: string, n: bigint): boolean {
  if (INT32_KINDS.has(kind)) return n >= -(2n ** 31n) && n < 2n ** 31n;
  if (UINT32_KINDS.has(kind)) return n >= 0n && n < 2n ** 32n;
  if (INT64_KINDS.has(kind)) return n >= -(2n ** 63n) && n < 2n ** 63n;
  if (UINT64_KINDS.has(kind)) return n >= 0n && n < 2n ** 64n;
  return false;
}

function checkScalar(ctx: CheckContext, kind: JsonScalarKind, value: Json, path: string): void {
  if (kind === "string") {
    if (typeof value !== "string") ctx.issues.push({ path, message: `expected a string, got ${describe(value)}` });
    return;
  }
  if (kind === "bool") {
    if (typeof value !== "boolean")
      ctx.issues.push({ path, message: `expected true or false, got ${describe(value)}` });
    return;
  }
  if (kind === "bytes") {
    if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
      ctx.issues.push({ path, message: `expected base64 bytes, got ${describe(value)}` });
    }
    return;
  }
  if (FLOAT_KINDS.has(kind)) {
    const ok =
      (typeof value === "number" && Number.isFinite(value)) ||
      (typeof value === "string" &&
        (/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) || /^(NaN|-?Infinity)$/.test(value)));
    if (!ok) ctx.issues.push({ path, message: `expected a number, got ${describe(value)}` });
    return;
  }
  // integer kinds: a JSON number with no fraction, or a decimal string (proto3 JSON allows both)
  let n: bigint | null = null;
  if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) n = BigInt(value);
  if (n === null) {
    ctx.issues.push({ path, message: `expected an integer (${kind}), got ${describe(value)}` });
    return;
  }
  if (!integerInRange(kind, n)) ctx.issues.push({ path, message: `${n} is out of range for ${kind}` });
}

function checkAny(ctx: CheckContext, value: Json, path: string): void {
  if (!isPlainObject(value)) {
    ctx.issues.push({ path, message: `expected an object with "@type" (google.protobuf.Any), got ${describe(value)}` });
    return;
  }
  const typeUrl = value["@type"];
  const typePath = childPath(path, "@type");
  if (typeof typeUrl !== "string" || typeUrl === "") {
    ctx.issues.push({ path: typePath, message: `missing "@type" in google.protobuf.Any` });
    return;
  }
  const type = lookupTypeUrl(ctx.root, typeUrl);
  if (!type) {
    const hint = /\.v2(alpha\d*)?\./.test(typeUrl) ? "; the v2 API was removed from Envoy in v1.18" : "";
    ctx.issues.push({
      path: typePath,
      message: `unknown @type "${typeUrl}" (no such message in the loaded API${hint})`,
    });
    return;
  }
  if (SPECIAL_JSON.has(type.fullName)) {
    const extra = Object.keys(value).filter((k) => k !== "@type" && k !== "value");
    for (const k of extra) ctx.issues.push({ path: childPath(path, k), message: `unknown field "${k}" in ${typeUrl}` });
    if (!("value" in value)) ctx.issues.push({ path, message: `"value" is required for @type ${typeUrl}` });
    else checkMessage(ctx, type, value.value, childPath(path, "value"));
    return;
  }
  checkFields(ctx, type, value, path, new Set(["@type"]));
  if (TYPED_STRUCTS.has(type.fullName)) checkTypedStruct(ctx, value, path);
}

/** TypedStruct carries a message as a Struct plus its type URL: decode the Struct as that message. */
function checkTypedStruct(ctx: CheckContext, value: Record<string, Json>, path: string): void {
  const inner = value.type_url ?? value.typeUrl;
  if (typeof inner !== "string") return;
  const type = lookupTypeUrl(ctx.root, inner);
  if (!type) {
    ctx.issues.push({ path: childPath(path, "type_url"), message: `unknown type_url "${inner}"` });
    return;
  }
  checkMessage(ctx, type, value.value ?? {}, childPath(path, "value"));
}

/** Resolves "type.googleapis.com/envoy.x.v3.Y" to the message type, or undefined if not in the API. */
export function lookupTypeUrl(root: protobuf.Root, typeUrl: string): protobuf.Type | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  if (!typeUrl.includes("/") || name === "") return undefined;
  try {
    const found = root.lookup(name);
    return found instanceof protobuf.Type ? found : undefined;
  } catch {
    return undefined;
  }
}

/** Convenience: check `value` as message `typeName` and return the problems. */
export function checkAgainstType(
  root: protobuf.Root,
  typeName: string,
  value: Json,
  path = "",
  options: { jsonNamesOnly?: boolean; partial?: boolean } = {},
): Issue[] {
  const ctx: CheckContext = {
    root,
    issues: [],
    jsonNamesOnly: options.jsonNamesOnly === true,
    partial: options.partial === true,
  };
  checkMessage(ctx, root.lookupType(typeName), value, path);
  return ctx.issues;
}
