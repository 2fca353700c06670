// protoc-gen-validate rules, read from the `(validate.rules)` option of each upstream field and applied to
// the JSON value (or to the proto3 default when the field is absent, as PGV's generated validators do).
// Covered: string, bytes, all numeric kinds, bool, enum, message.required, repeated, map, any, duration,
// timestamp.required and the scalar rules of wrapper types. Not covered (reported nowhere): rules whose
// regular expression is RE2-only syntax that JavaScript cannot compile.
import { isIP } from "node:net";
import type protobuf from "protobufjs";
import { parseDuration } from "./duration.js";
import { childPath, type Issue } from "./issues.js";

export type JsonScalarKind =
  | "string"
  | "bool"
  | "bytes"
  | "double"
  | "float"
  | "int32"
  | "int64"
  | "uint32"
  | "uint64"
  | "sint32"
  | "sint64"
  | "fixed32"
  | "fixed64"
  | "sfixed32"
  | "sfixed64";

type Rules = Record<string, unknown>;

const NUMERIC_KINDS = new Set([
  "double",
  "float",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
]);

const WRAPPER_KIND: Record<string, string> = {
  "google.protobuf.DoubleValue": "double",
  "google.protobuf.FloatValue": "float",
  "google.protobuf.Int64Value": "int64",
  "google.protobuf.UInt64Value": "uint64",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.BoolValue": "bool",
  "google.protobuf.StringValue": "string",
  "google.protobuf.BytesValue": "bytes",
};

// PGV's well-known header regexes (strict and non-strict forms).
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
/** Control characters PGV's strict header-value regex refuses: 0x00-0x08, 0x0A-0x1F, 0x7F (tab is allowed). */
function headerValueStrictOk(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x08 || (c >= 0x0a && c <= 0x1f) || c === 0x7f) return false;
  }
  return true;
}
/** The non-strict form only refuses NUL, LF and CR. */
function headerLooseOk(s: string): boolean {
  return !s.includes("\u0000") && !s.includes("\n") && !s.includes("\r");
}

/** The merged `(validate.rules)` option of a field, or undefined when it has none. */
export function fieldRules(field: protobuf.Field): Rules | undefined {
  const parsed: unknown = field.parsedOptions;
  for (const opt of Array.isArray(parsed) ? parsed : []) {
    const rules = (opt as Record<string, unknown>)["(validate.rules)"];
    if (rules && typeof rules === "object") return rules as Rules;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  if (isObject(v) && typeof v.toNumber === "function") return (v.toNumber as () => number)(); // protobufjs Long
  return undefined;
}

function durationNanos(v: unknown): number | undefined {
  if (typeof v === "string") {
    const d = parseDuration(v);
    return d ? d.seconds * 1e9 + d.nanos : undefined;
  }
  if (isObject(v)) return (toNumber(v.seconds) ?? 0) * 1e9 + (toNumber(v.nanos) ?? 0);
  return undefined;
}

function fmtDuration(nanos: number): string {
  return `${nanos / 1e9}s`;
}

/** Applies lt/lte/gt/gte/const/in/not_in to a number, PGV style (gt > lt means an exclusive outside range). */
function checkRange(
  issues: Issue[],
  path: string,
  value: number,
  r: Rules,
  toNum: (v: unknown) => number | undefined,
  show: (n: number) => string,
): void {
  const c = toNum(r.const);
  if (c !== undefined && value !== c) issues.push({ path, message: `must equal ${show(c)}, got ${show(value)}` });
  const lt = toNum(r.lt);
  const lte = toNum(r.lte);
  const gt = toNum(r.gt);
  const gte = toNum(r.gte);
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  const aboveLower = lower === undefined || (gt !== undefined ? value > gt : value >= (gte as number));
  const belowUpper = upper === undefined || (lt !== undefined ? value < lt : value <= (lte as number));
  const describeBound = (): string =>
    [
      gt !== undefined ? `> ${show(gt)}` : "",
      gte !== undefined ? `>= ${show(gte)}` : "",
      lt !== undefined ? `< ${show(lt)}` : "",
      lte !== undefined ? `<= ${show(lte)}` : "",
    ]
      .filter(Boolean)
      .join(lower !== undefined && upper !== undefined && lower > upper ? " or " : " and ");
  if (lower !== undefined && upper !== undefined && lower > upper) {
    if (!aboveLower && !belowUpper) issues.push({ path, message: `must be ${describeBound()}, got ${show(value)}` });
  } else if (!aboveLower || !belowUpper) {
    issues.push({ path, message: `must be ${describeBound()}, got ${show(value)}` });
  }
  const inList = Array.isArray(r.in) ? r.in.map(toNum) : undefined;
  if (inList && inList.length > 0 && !inList.includes(value)) {
    issues.push({ path, message: `must be one of ${inList.map((n) => show(n as number)).join(", ")}` });
  }
  const notIn = Array.isArray(r.not_in) ? r.not_in.map(toNum) : undefined;
  if (notIn?.includes(value)) issues.push({ path, message: `must not be ${show(value)}` });
}

function compileRe2(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, "u");
  } catch {
    return undefined;
  }
}

function checkString(issues: Issue[], path: string, s: string, r: Rules): void {
  const chars = [...s].length;
  const bytes = Buffer.byteLength(s, "utf8");
  const n = (k: string): number | undefined => toNumber(r[k]);
  if (r.const !== undefined && s !== r.const) issues.push({ path, message: `must equal "${String(r.const)}"` });
  if (n("len") !== undefined && chars !== n("len"))
    issues.push({ path, message: `must be exactly ${n("len")} characters` });
  if (n("min_len") !== undefined && chars < (n("min_len") as number)) {
    issues.push({
      path,
      message: n("min_len") === 1 ? "must not be empty" : `must be at least ${n("min_len")} characters`,
    });
  }
  if (n("max_len") !== undefined && chars > (n("max_len") as number)) {
    issues.push({ path, message: `must be at most ${n("max_len")} characters` });
  }
  if (n("min_bytes") !== undefined && bytes < (n("min_bytes") as number)) {
    issues.push({ path, message: `must be at least ${n("min_bytes")} bytes` });
  }
  if (n("max_bytes") !== undefined && bytes > (n("max_bytes") as number)) {
    issues.push({ path, message: `must be at most ${n("max_bytes")} bytes` });
  }
  if (typeof r.prefix === "string" && !s.startsWith(r.prefix))
    issues.push({ path, message: `must start with "${r.prefix}"` });
  if (typeof r.suffix === "string" && !s.endsWith(r.suffix))
    issues.push({ path, message: `must end with "${r.suffix}"` });
  if (typeof r.contains === "string" && !s.includes(r.contains))
    issues.push({ path, message: `must contain "${r.contains}"` });
  if (typeof r.not_contains === "string" && s.includes(r.not_contains)) {
    issues.push({ path, message: `must not contain "${r.not_contains}"` });
  }
  if (typeof r.pattern === "string") {
    const re = compileRe2(r.pattern);
    if (re && !re.test(s)) issues.push({ path, message: `must match /${r.pattern}/` });
  }
  if (Array.isArray(r.in) && r.in.length > 0 && !r.in.includes(s))
    issues.push({ path, message: `must be one of ${r.in.join(", ")}` });
  if (Array.isArray(r.not_in) && r.not_in.includes(s)) issues.push({ path, message: `must not be "${s}"` });
  const strict = r.strict !== false;
  if (r.well_known_regex === "HTTP_HEADER_NAME") {
    if (!(strict ? HEADER_NAME_STRICT.test(s) : headerLooseOk(s)) || (strict && s === "")) {
      issues.push({ path, message: "must be a valid HTTP header name" });
    }
  }
  if (r.well_known_regex === "HTTP_HEADER_VALUE" && !(strict ? headerValueStrictOk(s) : headerLooseOk(s))) {
    issues.push({ path, message: "must be a valid HTTP header value" });
  }
  if (r.ip === true && isIP(s) === 0) issues.push({ path, message: "must be an IP address" });
  if (r.ipv4 === true && isIP(s) !== 4) issues.push({ path, message: "must be an IPv4 address" });
  if (r.ipv6 === true && isIP(s) !== 6) issues.push({ path, message: "must be an IPv6 address" });
  const hostnameOk =
    /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/.test(
      s,
    );
  if (r.hostname === true && !hostnameOk) issues.push({ path, message: "must be a hostname" });
  if (r.address === true && !hostnameOk && isIP(s) === 0)
    issues.push({ path, message: "must be a hostname or IP address" });
  if (r.uri === true && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) issues.push({ path, message: "must be an absolute URI" });
}

function isDefault(field: protobuf.Field, value: unknown): boolean {
  if (value === undefined) return true;
  if (field.repeated || field.map)
    return Array.isArray(value) ? value.length === 0 : isObject(value) && Object.keys(value).length === 0;
  if (typeof value === "string") return value === "";
  if (typeof value === "number") return value === 0;
  if (typeof value === "boolean") return value === false;
  return false;
}

/** Applies one field's rules; `value` is undefined when the field is absent. */
export function checkFieldRules(
  issues: Issue[],
  field: protobuf.Field,
  rules: Rules,
  value: unknown,
  path: string,
): void {
  if (rules.ignore_empty === true && isDefault(field, value)) return;
  const resolved = field.resolvedType;
  const isMessage = resolved !== null && "fieldsArray" in resolved;
  const isEnum = resolved !== null && !isMessage;

  if (field.map) {
    const r = rules.map;
    if (!isObject(r)) return;
    const entries = isObject(value) ? Object.entries(value) : [];
    const min = toNumber(r.min_pairs);
    const max = toNumber(r.max_pairs);
    if (min !== undefined && entries.length < min) issues.push({ path, message: `must have at least ${min} entries` });
    if (max !== undefined && entries.length > max) issues.push({ path, message: `must have at most ${max} entries` });
    for (const [k, v] of entries) {
      if (isObject(r.keys) && isObject(r.keys.string)) checkString(issues, childPath(path, k), k, r.keys.string);
      if (isObject(r.values)) applyElementRules(issues, field, r.values, v, childPath(path, k));
    }
    return;
  }
  if (field.repeated) {
    const r = rules.repeated;
    if (!isObject(r)) return;
    const items = Array.isArray(value) ? value : [];
    const min = toNumber(r.min_items);
    const max = toNumber(r.max_items);
    if (min !== undefined && items.length < min) {
      issues.push({ path, message: min === 1 ? `must have at least one item` : `must have at least ${min} items` });
    }
    if (max !== undefined && items.length > max) issues.push({ path, message: `must have at most ${max} items` });
    if (r.unique === true) {
      const seen = new Set(items.map((i) => JSON.stringify(i)));
      if (seen.size !== items.length) issues.push({ path, message: "items must be unique" });
    }
    if (isObject(r.items)) {
      const itemRules = r.items;
      for (let i = 0; i < items.length; i++) applyElementRules(issues, field, itemRules, items[i], childPath(path, i));
    }
    return;
  }
  if (isMessage) {
    const typeName = (resolved as protobuf.Type).fullName.slice(1);
    if (value === undefined) {
      const required =
        (isObject(rules.message) && rules.message.required === true) ||
        (isObject(rules.duration) && rules.duration.required === true) ||
        (isObject(rules.any) && rules.any.required === true) ||
        (isObject(rules.timestamp) && rules.timestamp.required === true);
      if (required) issues.push({ path, message: `required field "${field.name}" is missing` });
      return;
    }
    applyMessageValueRules(issues, typeName, rules, value, path);
    return;
  }
  if (isEnum) {
    const r = rules.enum;
    if (!isObject(r)) return;
    const e = resolved as protobuf.Enum;
    const num = value === undefined ? 0 : typeof value === "string" ? e.values[value] : toNumber(value);
    // An undefined name or number was already reported by the type check (which is always defined_only).
    checkEnumRange(issues, path, r, e, num);
    return;
  }
  applyScalarRules(issues, field.type, rules, value, path);
}

/** `enum` rules (const, in, not_in) on a defined enum value; undefined values were reported by the type check. */
function checkEnumRange(
  issues: Issue[],
  path: string,
  r: Record<string, unknown>,
  e: protobuf.Enum,
  num: number | undefined,
): void {
  if (num === undefined || e.valuesById[num] === undefined) return;
  checkRange(
    issues,
    path,
    num,
    { const: r.const, in: r.in, not_in: r.not_in },
    toNumber,
    (n) => e.valuesById[n] ?? String(n),
  );
}

/** Rules in `repeated.items` / `map.values` apply to each element as if it were a singular field. */
function applyElementRules(issues: Issue[], field: protobuf.Field, rules: Rules, value: unknown, path: string): void {
  const resolved = field.resolvedType;
  if (resolved !== null && "fieldsArray" in resolved) {
    applyMessageValueRules(issues, (resolved as protobuf.Type).fullName.slice(1), rules, value, path);
  } else if (resolved !== null) {
    const r = rules.enum;
    const e = resolved as protobuf.Enum;
    const num = typeof value === "string" ? e.values[value] : toNumber(value);
    // undefined values were reported by the type check; const/in/not_in still apply
    if (isObject(r)) checkEnumRange(issues, path, r, e, num);
  } else {
    applyScalarRules(issues, field.type, rules, value, path);
  }
}

function applyMessageValueRules(issues: Issue[], typeName: string, rules: Rules, value: unknown, path: string): void {
  const wrapped = WRAPPER_KIND[typeName];
  if (wrapped) {
    applyScalarRules(issues, wrapped, rules, value, path);
    return;
  }
  if (typeName === "google.protobuf.Duration" && isObject(rules.duration)) {
    const nanos = durationNanos(value);
    if (nanos !== undefined) {
      const r = rules.duration;
      checkRange(
        issues,
        path,
        nanos,
        { const: r.const, lt: r.lt, lte: r.lte, gt: r.gt, gte: r.gte, in: r.in, not_in: r.not_in },
        durationNanos,
        fmtDuration,
      );
    }
    return;
  }
  if (typeName === "google.protobuf.Any" && isObject(rules.any) && isObject(value)) {
    const url = value["@type"];
    const r = rules.any;
    if (typeof url === "string" && Array.isArray(r.in) && r.in.length > 0 && !r.in.includes(url)) {
      issues.push({ path, message: `@type must be one of ${r.in.join(", ")}` });
    }
    if (typeof url === "string" && Array.isArray(r.not_in) && r.not_in.includes(url)) {
      issues.push({ path, message: `@type ${url} is not allowed here` });
    }
  }
}

function applyScalarRules(issues: Issue[], kind: string, rules: Rules, value: unknown, path: string): void {
  if (kind === "string") {
    const r = rules.string;
    const s = value === undefined ? "" : value;
    if (isObject(r) && typeof s === "string") checkString(issues, path, s, r);
    return;
  }
  if (kind === "bytes") {
    const r = rules.bytes;
    const s = value === undefined ? "" : value;
    if (!isObject(r) || typeof s !== "string") return;
    const len = Buffer.from(s, "base64").length;
    const min = toNumber(r.min_len);
    const max = toNumber(r.max_len);
    if (min !== undefined && len < min) issues.push({ path, message: `must be at least ${min} bytes` });
    if (max !== undefined && len > max) issues.push({ path, message: `must be at most ${max} bytes` });
    return;
  }
  if (kind === "bool") {
    const r = rules.bool;
    const b = value === undefined ? false : value;
    if (isObject(r) && r.const !== undefined && b !== r.const)
      issues.push({ path, message: `must be ${String(r.const)}` });
    return;
  }
  if (NUMERIC_KINDS.has(kind)) {
    const r = rules[kind];
    const num = value === undefined ? 0 : toNumber(value);
    if (isObject(r) && num !== undefined) checkRange(issues, path, num, r, toNumber, String);
  }
}
