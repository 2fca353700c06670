/**
 * Validates one AuthorizationPolicy document and compiles it into matchers. Strict: an unknown field, an unsupported
 * feature or an invalid value is an error naming the file, line, policy, rule and field — never skipped. (Istio drops
 * a rule with an unknown condition key, which turns a DENY rule into one that denies nothing.)
 */
import { FINGERPRINT_FORMAT, isFingerprint } from "../identity/fingerprint.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import { decision } from "../model/decision.js";
import { FALCO_PRIORITIES, NO_ALERT, RISK_LEVELS } from "../model/risk-view.js";
import { Attribute, isIdentity, isRisk } from "./attributes.js";
import type { Action, Clause, CompiledPolicy, CompiledRule, FieldCheck, PolicyLoadError } from "./compiled.js";
import { HostMatcher } from "./matchers/host-matcher.js";
import { type IpBlock, IpMatcher, parseIpBlock } from "./matchers/ip-matcher.js";
import { compilePathTemplate, PathMatcher, type PathPattern } from "./matchers/path-matcher.js";
import { type Matcher, type Pattern, parsePattern, StringMatcher } from "./matchers/string-matcher.js";

export const API_VERSIONS = ["security.istio.io/v1", "security.istio.io/v1beta1"];
export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

export type PathSegment = string | number;

export interface PolicyDocument {
  readonly file: string;
  /** The parsed document (plain JSON values). */
  readonly value: unknown;
  /** Line (1-based) of the node at a path inside the document, or of the nearest parent that exists. */
  lineAt(path: readonly PathSegment[]): number;
}

type ValueKind = "pattern" | "principal" | "serviceAccount" | "ip" | "port" | "path" | "host" | "method" | "enum";

interface FieldSpec {
  readonly attribute: Attribute;
  readonly kind: ValueKind;
  readonly negate: boolean;
  /** Allowed values for kind "enum". */
  readonly allowed?: readonly string[];
}

const SOURCE_FIELDS: Record<string, FieldSpec> = {
  principals: { attribute: Attribute.SourcePrincipal, kind: "principal", negate: false },
  notPrincipals: { attribute: Attribute.SourcePrincipal, kind: "principal", negate: true },
  namespaces: { attribute: Attribute.SourceNamespace, kind: "pattern", negate: false },
  notNamespaces: { attribute: Attribute.SourceNamespace, kind: "pattern", negate: true },
  serviceAccounts: { attribute: Attribute.SourceServiceAccount, kind: "serviceAccount", negate: false },
  notServiceAccounts: { attribute: Attribute.SourceServiceAccount, kind: "serviceAccount", negate: true },
  trustDomains: { attribute: Attribute.SourceTrustDomain, kind: "pattern", negate: false },
  notTrustDomains: { attribute: Attribute.SourceTrustDomain, kind: "pattern", negate: true },
  ipBlocks: { attribute: Attribute.SourceIp, kind: "ip", negate: false },
  notIpBlocks: { attribute: Attribute.SourceIp, kind: "ip", negate: true },
};

const UNSUPPORTED_SOURCE_FIELDS: Record<string, string> = {
  requestPrincipals: "JWT request principals are not supported: trustgate authorizes workload (mTLS) identities",
  notRequestPrincipals: "JWT request principals are not supported: trustgate authorizes workload (mTLS) identities",
  remoteIpBlocks: "remoteIpBlocks needs trusted X-Forwarded-For handling, which trustgate does not do; use ipBlocks",
  notRemoteIpBlocks: "notRemoteIpBlocks needs trusted X-Forwarded-For handling, which trustgate does not do",
};

const OPERATION_FIELDS: Record<string, FieldSpec> = {
  hosts: { attribute: Attribute.Host, kind: "host", negate: false },
  notHosts: { attribute: Attribute.Host, kind: "host", negate: true },
  ports: { attribute: Attribute.DestinationPort, kind: "port", negate: false },
  notPorts: { attribute: Attribute.DestinationPort, kind: "port", negate: true },
  methods: { attribute: Attribute.Method, kind: "method", negate: false },
  notMethods: { attribute: Attribute.Method, kind: "method", negate: true },
  paths: { attribute: Attribute.Path, kind: "path", negate: false },
  notPaths: { attribute: Attribute.Path, kind: "path", negate: true },
};

const RISK_LEVEL_VALUES: readonly string[] = RISK_LEVELS;
const ALERT_VALUES: readonly string[] = [...FALCO_PRIORITIES, NO_ALERT];

/** `when` keys, with their attribute and value kind. `request.headers[...]` is handled separately. */
export const CONDITION_KEYS: Record<string, Omit<FieldSpec, "negate">> = {
  "source.ip": { attribute: Attribute.SourceIp, kind: "ip" },
  "source.namespace": { attribute: Attribute.SourceNamespace, kind: "pattern" },
  "source.principal": { attribute: Attribute.SourcePrincipal, kind: "principal" },
  "source.serviceAccount": { attribute: Attribute.SourceServiceAccount, kind: "serviceAccount" },
  "source.trust_domain": { attribute: Attribute.SourceTrustDomain, kind: "pattern" },
  "source.certificate_fingerprint": { attribute: Attribute.SourceCertificateFingerprint, kind: "pattern" },
  "source.certificate_subject": { attribute: Attribute.SourceCertificateSubject, kind: "pattern" },
  "destination.ip": { attribute: Attribute.DestinationIp, kind: "ip" },
  "destination.port": { attribute: Attribute.DestinationPort, kind: "port" },
  "connection.sni": { attribute: Attribute.Sni, kind: "pattern" },
  "custom.falco_risk_score": { attribute: Attribute.SourceRiskLevel, kind: "enum", allowed: RISK_LEVEL_VALUES },
  "custom.falco_alert": { attribute: Attribute.SourceAlert, kind: "enum", allowed: ALERT_VALUES },
  "custom.destination_falco_risk_score": {
    attribute: Attribute.DestinationRiskLevel,
    kind: "enum",
    allowed: RISK_LEVEL_VALUES,
  },
  "custom.destination_falco_alert": { attribute: Attribute.DestinationAlert, kind: "enum", allowed: ALERT_VALUES },
  "custom.falco_feed": { attribute: Attribute.FalcoFeed, kind: "enum", allowed: ["fresh", "stale"] },
};

const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-zA-Z-]+$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9a-zA-Z-]+$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `${typeof v} ${JSON.stringify(v)}`;
}

function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** Collects errors for one document; knows where it is so every error carries its location. */
class Compiler {
  readonly errors: PolicyLoadError[] = [];
  policyId = "";
  currentRule: number | null = null;

  constructor(private readonly doc: PolicyDocument) {}

  error(path: readonly PathSegment[], message: string): void {
    this.errors.push({
      file: this.doc.file,
      line: this.doc.lineAt(path),
      policy: this.policyId,
      rule: this.currentRule,
      field: formatPath(path),
      message,
    });
  }

  /** Checks that `value` is a map with only `allowed` keys. */
  map(value: unknown, path: readonly PathSegment[], allowed: readonly string[]): Record<string, unknown> | null {
    if (!isPlainObject(value)) {
      this.error(path, `expected a map, got ${describe(value)}`);
      return null;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.error([...path, key], `unknown field "${key}" (expected one of: ${allowed.join(", ")})`);
    }
    return value;
  }

  stringList(value: unknown, path: readonly PathSegment[]): string[] | null {
    if (!Array.isArray(value)) {
      this.error(path, `expected a list of strings, got ${describe(value)}`);
      return null;
    }
    const out: string[] = [];
    value.forEach((item, i) => {
      // Ports are often written as YAML numbers; everything else must be a string.
      if (typeof item === "string") out.push(item);
      else if (typeof item === "number" && Number.isInteger(item)) out.push(String(item));
      else this.error([...path, i], `expected a string, got ${describe(item)}`);
    });
    return out;
  }

  /** Builds the matcher for a field's values, validating each one against the value kind. */
  matcher(
    kind: ValueKind,
    values: readonly string[],
    path: readonly PathSegment[],
    allowed?: readonly string[],
  ): Matcher | null {
    let ok = true;
    const fail = (i: number, message: string) => {
      this.error([...path, i], message);
      ok = false;
    };
    if (values.length === 0) {
      this.error(path, "the list is empty; remove the field or give at least one value");
      return null;
    }
    switch (kind) {
      case "ip": {
        const blocks: IpBlock[] = [];
        values.forEach((v, i) => {
          const parsed = parseIpBlock(v);
          if (!parsed.ok) fail(i, parsed.error);
          else blocks.push(parsed.block);
        });
        return ok ? new IpMatcher(blocks) : null;
      }
      case "path": {
        const patterns: PathPattern[] = [];
        values.forEach((v, i) => {
          if (v.includes("{") || v.includes("}")) {
            const template = compilePathTemplate(v);
            if (!template.ok) fail(i, template.error);
            else patterns.push({ kind: "template", regex: template.regex });
            return;
          }
          const parsed = parsePattern(v);
          if (!parsed.ok) fail(i, parsed.error);
          else patterns.push({ kind: "string", pattern: parsed.pattern });
        });
        return ok ? new PathMatcher(patterns) : null;
      }
      default: {
        const patterns: Pattern[] = [];
        values.forEach((v, i) => {
          const raw = kind === "principal" && v.startsWith("spiffe://") ? v.slice("spiffe://".length) : v;
          const parsed = parsePattern(raw);
          if (!parsed.ok) {
            fail(i, parsed.error);
            return;
          }
          const pattern = parsed.pattern;
          const problem = this.valueProblem(kind, v, raw, pattern, allowed);
          if (problem) {
            fail(i, problem);
            return;
          }
          patterns.push(pattern);
        });
        if (!ok) return null;
        return kind === "host" ? new HostMatcher(patterns) : new StringMatcher(patterns);
      }
    }
  }

  private valueProblem(
    kind: ValueKind,
    written: string,
    raw: string,
    pattern: Pattern,
    allowed?: readonly string[],
  ): string | null {
    const exact = pattern.kind === "exact" ? pattern.value : null;
    switch (kind) {
      case "principal": {
        if (exact === null) return null;
        const parsed = parseSpiffeId(`spiffe://${raw}`);
        return parsed.ok ? null : `"${written}" can never match a SPIFFE ID: ${parsed.error}`;
      }
      case "serviceAccount":
        if (exact === null) return "serviceAccounts take exact <namespace>/<serviceaccount> values, without wildcards";
        return /^[^/]+\/[^/]+$/.test(exact) ? null : `"${written}" is not of the form <namespace>/<serviceaccount>`;
      case "port": {
        if (exact === null) return "ports take exact port numbers";
        const n = Number(exact);
        return /^\d+$/.test(exact) && n >= 1 && n <= 65535 ? null : `"${written}" is not a port number (1-65535)`;
      }
      case "method":
        return exact === null || METHOD.test(exact) ? null : `"${written}" is not an HTTP method token`;
      case "enum":
        if (exact === null)
          return pattern.kind === "presence" ? null : `"${written}": use exact values (${allowed?.join(", ")})`;
        return allowed?.includes(exact) ? null : `"${written}" is not one of: ${allowed?.join(", ")}`;
      default:
        return null;
    }
  }

  fieldCheck(
    spec: Omit<FieldSpec, "negate">,
    negate: boolean,
    value: unknown,
    path: readonly PathSegment[],
    field: string,
    header = "",
  ): FieldCheck | null {
    const values = this.stringList(value, path);
    if (values === null) return null;
    const fingerprintKey = spec.attribute === Attribute.SourceCertificateFingerprint;
    if (fingerprintKey) {
      values.forEach((v, i) => {
        if (v !== "*" && !isFingerprint(v)) {
          this.error([...path, i], `"${v}" is not a certificate fingerprint of the form ${FINGERPRINT_FORMAT}`);
        }
      });
    }
    const matcher = this.matcher(spec.kind, values, path, spec.allowed);
    if (matcher === null) return null;
    return { field, attribute: spec.attribute, header, matcher, negate, written: values };
  }
}

function compileClause(
  c: Compiler,
  value: unknown,
  path: readonly PathSegment[],
  wrapper: "source" | "operation",
  fields: Record<string, FieldSpec>,
  unsupported: Record<string, string>,
  label: string,
): Clause | null {
  const outer = c.map(value, path, [wrapper]);
  if (outer === null) return null;
  const inner = outer[wrapper];
  if (inner === undefined) {
    c.error(path, `missing "${wrapper}"`);
    return null;
  }
  const innerPath = [...path, wrapper];
  if (!isPlainObject(inner)) {
    c.error(innerPath, `expected a map, got ${describe(inner)}`);
    return null;
  }
  const checks: FieldCheck[] = [];
  let ok = true;
  for (const [key, fieldValue] of Object.entries(inner)) {
    const fieldPath = [...innerPath, key];
    if (key in unsupported) {
      c.error(fieldPath, unsupported[key]!);
      ok = false;
      continue;
    }
    const spec = fields[key];
    if (!spec) {
      c.error(fieldPath, `unknown field "${key}" (expected one of: ${Object.keys(fields).join(", ")})`);
      ok = false;
      continue;
    }
    const check = c.fieldCheck(spec, spec.negate, fieldValue, fieldPath, `${label}.${wrapper}.${key}`);
    if (check === null) ok = false;
    else checks.push(check);
  }
  if (wrapper === "source" && ("serviceAccounts" in inner || "notServiceAccounts" in inner)) {
    for (const other of ["principals", "notPrincipals", "namespaces", "notNamespaces"]) {
      if (other in inner) {
        c.error([...innerPath, other], `"${other}" cannot be combined with serviceAccounts (Istio rejects it too)`);
        ok = false;
      }
    }
  }
  return ok ? checks : null;
}

function compileCondition(
  c: Compiler,
  value: unknown,
  path: readonly PathSegment[],
  index: number,
): FieldCheck[] | null {
  const condition = c.map(value, path, ["key", "values", "notValues"]);
  if (condition === null) return null;
  const key = condition.key;
  if (typeof key !== "string" || key === "") {
    c.error([...path, "key"], "a condition needs a non-empty key");
    return null;
  }
  if (condition.values === undefined && condition.notValues === undefined) {
    c.error(path, `condition "${key}" needs values or notValues`);
    return null;
  }
  let spec: Omit<FieldSpec, "negate"> | undefined = CONDITION_KEYS[key];
  let header = "";
  const headerMatch = HEADER_KEY.exec(key);
  if (headerMatch) {
    header = headerMatch[1]!.toLowerCase();
    if (!HEADER_NAME.test(header)) {
      c.error([...path, "key"], `"${headerMatch[1]}" is not a valid header name`);
      return null;
    }
    spec = { attribute: Attribute.Header, kind: "pattern" };
  }
  if (!spec) {
    const why =
      key.startsWith("request.auth.") || key === "remote.ip"
        ? key === "remote.ip"
          ? "remote.ip needs trusted X-Forwarded-For handling, which trustgate does not do"
          : "JWT conditions (request.auth.*) are not supported: trustgate authorizes workload (mTLS) identities"
        : `unknown condition key "${key}" (supported: request.headers[<name>], ${Object.keys(CONDITION_KEYS).join(", ")})`;
    c.error([...path, "key"], why);
    return null;
  }
  const checks: FieldCheck[] = [];
  let ok = true;
  for (const which of ["values", "notValues"] as const) {
    if (condition[which] === undefined) continue;
    const check = c.fieldCheck(
      spec,
      which === "notValues",
      condition[which],
      [...path, which],
      `when[${index}] ${key}`,
      header,
    );
    if (check === null) ok = false;
    else checks.push(check);
  }
  return ok ? checks : null;
}

function compileRule(c: Compiler, value: unknown, path: readonly PathSegment[], index: number): CompiledRule | null {
  const rule = c.map(value, path, ["from", "to", "when"]);
  if (rule === null) return null;
  let ok = true;
  const clauses = (key: "from" | "to"): Clause[] | null => {
    const list = rule[key];
    if (list === undefined) return null;
    if (!Array.isArray(list) || list.length === 0) {
      c.error(
        [...path, key],
        `"${key}" must be a non-empty list (omit it to match any ${key === "from" ? "source" : "operation"})`,
      );
      ok = false;
      return null;
    }
    const out: Clause[] = [];
    list.forEach((item, i) => {
      const clause =
        key === "from"
          ? compileClause(c, item, [...path, key, i], "source", SOURCE_FIELDS, UNSUPPORTED_SOURCE_FIELDS, `from[${i}]`)
          : compileClause(c, item, [...path, key, i], "operation", OPERATION_FIELDS, {}, `to[${i}]`);
      if (clause === null) ok = false;
      else out.push(clause);
    });
    return out;
  };
  const from = clauses("from");
  const to = clauses("to");
  const when: FieldCheck[] = [];
  if (rule.when !== undefined) {
    if (!Array.isArray(rule.when) || rule.when.length === 0) {
      c.error([...path, "when"], '"when" must be a non-empty list');
      ok = false;
    } else {
      rule.when.forEach((item, i) => {
        const checks = compileCondition(c, item, [...path, "when", i], i);
        if (checks === null) ok = false;
        else when.push(...checks);
      });
    }
  }
  if (!ok) return null;
  const all = [...(from ?? []).flat(), ...(to ?? []).flat(), ...when];
  return {
    index,
    from,
    to,
    when,
    needsIdentity: all.some((check) => isIdentity(check.attribute)),
    readsRisk: all.some((check) => isRisk(check.attribute)),
    allowDecision: null,
    line: 0,
  };
}

export interface PolicyCompileResult {
  readonly policy: CompiledPolicy | null;
  readonly errors: PolicyLoadError[];
}

/** Compiles one YAML document. Returns the policy, or null with errors describing every problem found. */
export function compilePolicy(doc: PolicyDocument): PolicyCompileResult {
  const steps = compilePolicySteps(doc);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * compilePolicy one rule at a time: the generator pauses after each rule, so a caller that must stay responsive
 * (the server, reloading a large policy next to live Checks) can spread one big policy over several turns.
 */
export function* compilePolicySteps(doc: PolicyDocument): Generator<void, PolicyCompileResult, void> {
  const c = new Compiler(doc);
  const root = doc.value;
  if (!isPlainObject(root)) {
    c.error([], `expected an AuthorizationPolicy document, got ${describe(root)}`);
    return { policy: null, errors: c.errors };
  }
  for (const key of Object.keys(root)) {
    if (!["apiVersion", "kind", "metadata", "spec", "status"].includes(key)) c.error([key], `unknown field "${key}"`);
  }
  if (root.kind !== "AuthorizationPolicy") {
    c.error(
      ["kind"],
      `kind must be AuthorizationPolicy, got ${describe(root.kind)} (other kinds do not belong in the policy directory)`,
    );
  }
  if (typeof root.apiVersion !== "string" || !API_VERSIONS.includes(root.apiVersion)) {
    c.error(["apiVersion"], `apiVersion must be one of ${API_VERSIONS.join(", ")}, got ${describe(root.apiVersion)}`);
  }
  const metadata = isPlainObject(root.metadata) ? root.metadata : null;
  if (metadata === null) c.error(["metadata"], "metadata with name and namespace is required");
  const name = metadata?.name;
  const namespace = metadata?.namespace;
  if (metadata !== null) {
    if (typeof name !== "string" || name === "") c.error(["metadata", "name"], "metadata.name is required");
    if (typeof namespace !== "string" || namespace === "") {
      c.error(["metadata", "namespace"], "metadata.namespace is required (trustgate scopes policies by it)");
    }
  }
  if (typeof name === "string" && typeof namespace === "string") c.policyId = `${namespace}/${name}`;

  let dryRun = false;
  const annotations = metadata?.annotations;
  if (annotations !== undefined && isPlainObject(annotations) && DRY_RUN_ANNOTATION in annotations) {
    const v = annotations[DRY_RUN_ANNOTATION];
    if (v === "true" || v === true) dryRun = true;
    else if (!(v === "false" || v === false)) {
      c.error(["metadata", "annotations", DRY_RUN_ANNOTATION], `must be "true" or "false", got ${describe(v)}`);
    }
  }

  const spec =
    root.spec === undefined
      ? {}
      : c.map(root.spec, ["spec"], ["selector", "targetRef", "targetRefs", "action", "provider", "rules"]);
  if (spec === null) return { policy: null, errors: c.errors };

  for (const key of ["targetRef", "targetRefs"]) {
    if (key in spec) c.error(["spec", key], `${key} (Gateway/Service targets) is not supported; use selector`);
  }
  let action: Action = "ALLOW";
  if (spec.action !== undefined) {
    if (spec.action === "CUSTOM") {
      c.error(
        ["spec", "action"],
        "action CUSTOM is Istio's hook for calling trustgate; a trustgate policy uses ALLOW, DENY or AUDIT",
      );
    } else if (spec.action === "ALLOW" || spec.action === "DENY" || spec.action === "AUDIT") action = spec.action;
    else c.error(["spec", "action"], `action must be ALLOW, DENY or AUDIT, got ${describe(spec.action)}`);
  }
  if (spec.provider !== undefined) c.error(["spec", "provider"], "provider is only meaningful with action CUSTOM");

  let selector: Array<readonly [string, string]> | null = null;
  if (spec.selector !== undefined) {
    const sel = c.map(spec.selector, ["spec", "selector"], ["matchLabels"]);
    if (sel?.matchLabels !== undefined) {
      if (!isPlainObject(sel.matchLabels)) {
        c.error(["spec", "selector", "matchLabels"], `expected a map of labels, got ${describe(sel.matchLabels)}`);
      } else {
        selector = [];
        for (const [k, v] of Object.entries(sel.matchLabels)) {
          if (typeof v !== "string")
            c.error(["spec", "selector", "matchLabels", k], `label values are strings, got ${describe(v)}`);
          else selector.push([k, v]);
        }
        if (selector.length === 0) selector = null;
      }
    }
  }

  const rules: CompiledRule[] = [];
  if (spec.rules !== undefined) {
    if (!Array.isArray(spec.rules)) c.error(["spec", "rules"], `expected a list of rules, got ${describe(spec.rules)}`);
    else {
      for (let i = 0; i < spec.rules.length; i++) {
        if (i > 0) yield;
        c.currentRule = i;
        const rule = compileRule(c, spec.rules[i], ["spec", "rules", i], i);
        if (!rule) continue;
        const allowDecision =
          action === "ALLOW"
            ? decision("allow", `allowed by ALLOW policy ${c.policyId} rule ${i}`, c.policyId, i)
            : null;
        rules.push({ ...rule, allowDecision, line: doc.lineAt(["spec", "rules", i]) });
      }
      c.currentRule = null;
    }
  }

  if (c.errors.length > 0) return { policy: null, errors: c.errors };
  return {
    policy: {
      id: c.policyId,
      namespace: namespace as string,
      name: name as string,
      action,
      selector,
      rules,
      dryRun,
      file: doc.file,
      line: doc.lineAt([]),
    },
    errors: [],
  };
}
