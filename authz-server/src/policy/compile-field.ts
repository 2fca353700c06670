/**
 * One field's values → a FieldCheck: validated the way istiod validates them (trustgate's own keys more strictly),
 * then compiled into Istio's exact matcher and, where Istio has a documented trap, the wide (DENY) or narrow (ALLOW)
 * variant. Pure: problems are returned, never thrown.
 */
import { FINGERPRINT_FORMAT, isFingerprint } from "../identity/fingerprint.js";
import type { RequestModel } from "../model/request-model.js";
import { asciiUpperCase } from "../util/ascii.js";
import { Attribute } from "./attributes.js";
import type { FieldCheck } from "./compiled.js";
import { FieldPool } from "./field-pool.js";
import type { ValueKind } from "./field-specs.js";
import { HostWideMatcher, hostMatcher } from "./matchers/host-matcher.js";
import {
  NamespaceMatcher,
  PrincipalMatcher,
  ServiceAccountMatcher,
  TrustDomainMatcher,
} from "./matchers/identity-matcher.js";
import { type IpBlock, IpMatcher, IpWideMatcher, parseIpBlock } from "./matchers/ip-matcher.js";
import { istioPattern, type Pattern } from "./matchers/istio-pattern.js";
import { ClaimMatcher, FilterMetadataMatcher, RequestPrincipalMatcher, valueAt } from "./matchers/jwt-matcher.js";
import type { Matcher, Reader } from "./matchers/matcher.js";
import { PathMatcher, type PathPattern, PathWideMatcher } from "./matchers/path-matcher.js";
import { compilePathTemplate, isPathTemplate, istioPathProblem } from "./matchers/path-template.js";
import { PortMatcher } from "./matchers/port-matcher.js";
import { StringMatcher } from "./matchers/string-matcher.js";
import { expandTrustDomains, type TrustDomainBundle, withTrustDomainAliases } from "./trust-domain-bundle.js";

export interface FieldInput {
  readonly attribute: Attribute;
  readonly kind: ValueKind;
  readonly negate: boolean;
  /** Header name, filter namespace or claim path ("" otherwise). */
  readonly key: string;
  /** Claim path (claims) or metadata key (experimental keys). */
  readonly path: readonly string[];
  /** Allowed values for kind "enum". */
  readonly allowed: readonly string[] | null;
  readonly field: string;
  readonly values: readonly string[];
}

export interface FieldContext {
  /** The policy's namespace: a service account written without one belongs to it. */
  readonly namespace: string;
  readonly bundle: TrustDomainBundle;
  /** What the set's other policies already built for the same field (absent: every field is built on its own). */
  readonly pool?: SetFieldPool;
}

/** Matchers and checks shared within one set (field-pool.ts). */
export type SetFieldPool = FieldPool<Matchers, FieldCheck>;

/** A pool for compiling one set. */
export function setFieldPool(): SetFieldPool {
  return new FieldPool<Matchers, FieldCheck>();
}

/** A problem with one value (`index`) or with the list as a whole (`index` null). */
export interface FieldProblem {
  readonly index: number | null;
  readonly message: string;
}

export type FieldResult = { ok: true; check: FieldCheck } | { ok: false; problems: FieldProblem[] };

const SERVICE_ACCOUNT_MAX_VALUES = 16;
const SERVICE_ACCOUNT_MAX_LENGTH = 320;

/** Port numbers as istiod reads them: decimal digits, 0-65535 (leading zeros allowed). */
function parsePort(v: string): number | null {
  if (!/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n <= 65535 ? n : null;
}

/** trustgate's own keys keep one `*`, at the start or the end (no literal-star surprises). */
function strictWildcardProblem(v: string): string | null {
  const first = v.indexOf("*");
  if (first === -1 || v === "*") return null;
  if (first !== v.lastIndexOf("*")) return "a value may contain at most one '*'";
  return first === 0 || first === v.length - 1 ? null : "'*' is only allowed at the start or the end of a value";
}

function trustDomainProblem(v: string): string | null {
  const stars = v.split("*").length - 1;
  if (stars > 1) return "at most one wildcard is allowed in a trust domain";
  if (stars === 1 && v !== "*" && !v.startsWith("*") && !v.endsWith("*"))
    return "a wildcard is only allowed at the start or end of a trust domain";
  return null;
}

function serviceAccountProblem(v: string): string | null {
  if (v.includes("*")) return "wildcards are not allowed in serviceAccounts";
  const slashes = v.split("/").length - 1;
  if (slashes > 1) return `expected format 'serviceAccount' or 'namespace/serviceAccount', found "${v}"`;
  if (v.length > SERVICE_ACCOUNT_MAX_LENGTH)
    return `a service account cannot exceed ${SERVICE_ACCOUNT_MAX_LENGTH} characters`;
  const [ns, sa] = slashes === 1 ? v.split("/") : ["x", v];
  if (ns === "" || sa === "") return `expected format 'serviceAccount' or 'namespace/serviceAccount', found "${v}"`;
  return null;
}

/** The problem with one value of `kind`, or null. Empty values were refused before. */
function valueProblem(input: FieldInput, v: string): string | null {
  switch (input.kind) {
    case "serviceAccount":
      return serviceAccountProblem(v);
    case "trustDomain":
      // istiod refuses '/' in the trustDomains fields, not in the source.trustDomain key.
      return (
        trustDomainProblem(v) ??
        (input.field.startsWith("from[") && v.includes("/") ? "a trust domain cannot contain '/'" : null)
      );
    case "sourceIp":
    case "remoteIp":
    case "destinationIp": {
      const parsed = parseIpBlock(v);
      return parsed.ok ? null : parsed.error;
    }
    case "port":
      return parsePort(v) === null ? `"${v}" is not a port number (0-65535)` : null;
    case "path": {
      const problem = istioPathProblem(v);
      if (problem !== null || !isPathTemplate(v)) return problem;
      const compiled = compilePathTemplate(v);
      return compiled.ok ? null : compiled.error;
    }
    case "fingerprint":
      return v === "*" || isFingerprint(v)
        ? null
        : `"${v}" is not a certificate fingerprint of the form ${FINGERPRINT_FORMAT}`;
    case "subject":
    case "callerTrustDomain":
      return strictWildcardProblem(v);
    case "enum":
      if (v === "*") return null;
      if (v.includes("*")) return `"${v}": use exact values (${input.allowed?.join(", ")})`;
      return input.allowed?.includes(v) ? null : `"${v}" is not one of: ${input.allowed?.join(", ")}`;
    default:
      return null;
  }
}

const readMethod: Reader = (m) => m.http?.method;
/** DENY rules: the method in any letter case (an HTTP/2 `:method: delete` reaches servers that read it as DELETE). */
const readMethodUpperCase: Reader = (m) => {
  const method = m.http?.method;
  return method === undefined ? undefined : asciiUpperCase(method);
};
const readSni: Reader = (m) => m.sni ?? undefined;
const readFingerprint: Reader = (m) => (m.source.principal === "" ? undefined : m.source.certificateFingerprint);
const readSubject: Reader = (m) => (m.source.principal === "" ? undefined : m.source.certificateSubject);
const readCallerTrustDomain: Reader = (m) => (m.source.principal === "" ? undefined : m.source.trustDomain);
const RISK_READERS = new Map<Attribute, Reader>([
  [Attribute.SourceRiskLevel, (m) => m.sourceRiskAssessment().level],
  [Attribute.SourceAlert, (m) => m.sourceRiskAssessment().highestAlert],
  [Attribute.DestinationRiskLevel, (m) => m.destinationRiskAssessment().level],
  [Attribute.DestinationAlert, (m) => m.destinationRiskAssessment().highestAlert],
  [Attribute.FalcoFeed, (m) => m.feed()],
]);

const readSourceIp = (m: RequestModel) => m.source.ip;
const readRemoteIp = (m: RequestModel) => m.remoteIp();
const readDestinationIp = (m: RequestModel) => m.destination.ip;

function jsonText(v: unknown): string {
  return v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
}

// How explanations show the request's value, for the fields that read it the same way whatever their values: one
// function for all of a set's checks rather than one closure per check.
const showPrincipal = (m: RequestModel) => m.source.principal;
const showPort = (m: RequestModel) => (m.destination.port === 0 ? "" : String(m.destination.port));
const showHost = (m: RequestModel) => m.http?.host ?? "";
const showMethod = (m: RequestModel) => m.http?.method ?? "";
const showPath = (m: RequestModel) => m.http?.path ?? "";
const showRequestPrincipal = (m: RequestModel) =>
  (m.jwt?.payloads ?? []).map((p) => `${jsonText(valueAt(p, ["iss"]))}/${jsonText(valueAt(p, ["sub"]))}`).join(", ");
const showSni = (m: RequestModel) => m.sni ?? "";
const showFingerprint = (m: RequestModel) => m.source.certificateFingerprint;
const showSubject = (m: RequestModel) => m.source.certificateSubject;
const showCallerTrustDomain = (m: RequestModel) => m.source.trustDomain;

/** How explanations show the request's value for a field. */
function shower(input: FieldInput): (m: RequestModel) => string {
  switch (input.kind) {
    case "principal":
    case "namespace":
    case "serviceAccount":
    case "trustDomain":
      return showPrincipal;
    case "sourceIp":
      return readSourceIp;
    case "remoteIp":
      return readRemoteIp;
    case "destinationIp":
      return readDestinationIp;
    case "port":
      return showPort;
    case "host":
      return showHost;
    case "method":
      return showMethod;
    case "path":
      return showPath;
    case "header": {
      const name = input.key;
      return (m) => m.header(name) ?? "";
    }
    case "requestPrincipal":
      return showRequestPrincipal;
    case "claim": {
      const path = input.path;
      return (m) => (m.jwt?.payloads ?? []).map((p) => jsonText(valueAt(p, path))).join(", ");
    }
    case "metadata": {
      const [filter, key] = [input.key, input.path[0]!];
      return (m) => {
        const metadata = m.filterMetadata(filter);
        return metadata === undefined ? "" : jsonText(valueAt(metadata, [key]));
      };
    }
    case "sni":
      return showSni;
    case "fingerprint":
      return showFingerprint;
    case "subject":
      return showSubject;
    case "callerTrustDomain":
      return showCallerTrustDomain;
    case "enum": {
      const read = RISK_READERS.get(input.attribute)!;
      return (m) => read(m) ?? "";
    }
  }
}

export interface Matchers {
  readonly exact: Matcher;
  readonly wide?: Matcher | null;
  readonly narrow?: Matcher | null;
}

function ipBlocks(values: readonly string[]): IpBlock[] {
  return values.map((v) => {
    const parsed = parseIpBlock(v);
    if (!parsed.ok) throw new Error(`unreachable: validated IP ${v}`);
    return parsed.block;
  });
}

function pathPatterns(values: readonly string[]): PathPattern[] {
  return values.map((v): PathPattern => {
    if (!isPathTemplate(v)) return { kind: "string", pattern: istioPattern(v) };
    const exact = compilePathTemplate(v);
    const wide = compilePathTemplate(v, true);
    if (!exact.ok || !wide.ok) throw new Error(`unreachable: validated template ${v}`);
    return { kind: "template", regex: exact.regex, wide: wide.regex };
  });
}

function ipMatchers(read: (m: RequestModel) => string, blocks: readonly IpBlock[]): Matchers {
  return { exact: new IpMatcher(read, blocks), wide: new IpWideMatcher(read, blocks) };
}

// The readers and lists a matcher keeps are made outside buildMatchers: a closure made inside it would share its
// scope, and with it the compile's context (the set's FieldPool), for as long as the policy set lives.
function headerReader(name: string): Reader {
  return (m) => m.header(name);
}

function serviceAccounts(values: readonly string[], namespace: string): Array<readonly [string, string]> {
  return values.map((v) => {
    const slash = v.indexOf("/");
    return slash === -1 ? ([namespace, v] as const) : ([v.slice(0, slash), v.slice(slash + 1)] as const);
  });
}

function buildMatchers(input: FieldInput, ctx: FieldContext): Matchers {
  const values = input.values;
  const patterns = (vs: readonly string[]): Pattern[] => vs.map(istioPattern);
  switch (input.kind) {
    case "principal": {
      const rewritten = withTrustDomainAliases(ctx.bundle, values);
      const withScheme = values.filter((v) => v.startsWith("spiffe://")).map((v) => v.slice("spiffe://".length));
      return {
        exact: new PrincipalMatcher(patterns(rewritten)),
        wide:
          withScheme.length === 0
            ? null
            : new PrincipalMatcher(patterns(withTrustDomainAliases(ctx.bundle, withScheme))),
      };
    }
    case "namespace":
      return { exact: new NamespaceMatcher(values) };
    case "serviceAccount":
      return { exact: new ServiceAccountMatcher(serviceAccounts(values, ctx.namespace)) };
    case "trustDomain":
      return { exact: new TrustDomainMatcher(expandTrustDomains(ctx.bundle, values)) };
    case "sourceIp":
      return ipMatchers(readSourceIp, ipBlocks(values));
    case "remoteIp":
      return ipMatchers(readRemoteIp, ipBlocks(values));
    case "destinationIp":
      return ipMatchers(readDestinationIp, ipBlocks(values));
    case "port":
      return { exact: new PortMatcher(values.map((v) => parsePort(v)!)) };
    case "host":
      return { exact: hostMatcher(patterns(values)), wide: new HostWideMatcher(patterns(values)) };
    case "method":
      return {
        exact: new StringMatcher(readMethod, patterns(values), { anyIncludesEmpty: true }),
        wide: new StringMatcher(readMethodUpperCase, patterns(values), {
          anyIncludesEmpty: true,
          transform: asciiUpperCase,
        }),
      };
    case "path": {
      const compiled = pathPatterns(values);
      return { exact: new PathMatcher(compiled), wide: new PathWideMatcher(compiled) };
    }
    case "header": {
      const read = headerReader(input.key);
      const exact = new StringMatcher(read, patterns(values), { anyIncludesEmpty: true });
      // Istio documents `*` as "not empty" but Envoy's present_match also matches an empty header.
      const narrow = values.includes("*")
        ? new StringMatcher(read, patterns(values), { anyIncludesEmpty: false })
        : null;
      return { exact, narrow };
    }
    case "requestPrincipal":
      return { exact: new RequestPrincipalMatcher(values) };
    case "claim":
      return { exact: new ClaimMatcher(input.path, patterns(values)) };
    case "metadata": {
      const list = values.filter((v) => v.startsWith("[") && v.endsWith("]"));
      const scalar = values.filter((v) => !(v.startsWith("[") && v.endsWith("]")));
      return {
        exact: new FilterMetadataMatcher(
          input.key,
          input.path[0]!,
          patterns(scalar),
          patterns(list.map((v) => v.slice(1, -1))),
        ),
      };
    }
    case "sni":
      return { exact: new StringMatcher(readSni, patterns(values), { anyIncludesEmpty: false }) };
    case "fingerprint":
      return { exact: new StringMatcher(readFingerprint, patterns(values), { anyIncludesEmpty: false }) };
    case "subject":
      return { exact: new StringMatcher(readSubject, patterns(values), { anyIncludesEmpty: false }) };
    case "callerTrustDomain":
      return { exact: new StringMatcher(readCallerTrustDomain, patterns(values), { anyIncludesEmpty: false }) };
    case "enum":
      return {
        exact: new StringMatcher(RISK_READERS.get(input.attribute)!, patterns(values), { anyIncludesEmpty: false }),
      };
  }
}

/**
 * Everything buildMatchers reads, as one string: the kind, attribute, key and path, the values in order, and the
 * policy's namespace where it changes the meaning (a service account written without one). The bundle is the pool's.
 * Not the sign (`negate`): a matcher matches the same either way; the check applies the sign.
 */
function poolKey(input: FieldInput, ctx: FieldContext): string {
  const namespace = input.kind === "serviceAccount" ? ctx.namespace : "";
  return JSON.stringify([input.kind, input.attribute, input.key, input.path, namespace, input.values]);
}

export function compileField(input: FieldInput, ctx: FieldContext): FieldResult {
  const problems: FieldProblem[] = [];
  input.values.forEach((v, i) => {
    if (v === "") {
      problems.push({ index: i, message: "empty values are not allowed (istiod refuses them too)" });
      return;
    }
    const problem = valueProblem(input, v);
    if (problem !== null) problems.push({ index: i, message: problem });
  });
  if (input.kind === "serviceAccount" && input.values.length > SERVICE_ACCOUNT_MAX_VALUES) {
    problems.push({
      index: null,
      message: `serviceAccounts may not have more than ${SERVICE_ACCOUNT_MAX_VALUES} values`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const pool = ctx.pool;
  if (pool === undefined) return { ok: true, check: fieldCheck(input, buildMatchers(input, ctx)) };
  const key = poolKey(input, ctx);
  // The place and the sign too: a condition's values and notValues carry the same field label.
  const check = pool.check(ctx.bundle, JSON.stringify([input.field, input.negate, key]), () =>
    fieldCheck(
      input,
      pool.matchers(ctx.bundle, key, () => buildMatchers(input, ctx)),
    ),
  );
  return { ok: true, check };
}

function fieldCheck(input: FieldInput, matchers: Matchers): FieldCheck {
  return {
    field: input.field,
    attribute: input.attribute,
    key: input.key,
    exact: matchers.exact,
    wide: matchers.wide ?? null,
    narrow: matchers.narrow ?? null,
    negate: input.negate,
    written: input.values,
    show: shower(input),
  };
}
