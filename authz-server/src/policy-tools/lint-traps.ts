/**
 * Lint warnings for Istio's traps: places where the author plainly meant something Istio does not do, and where
 * trustgate therefore decides differently (denies more) or where the policy silently never matches. Each warning
 * says what Istio does and gives the spelling that means the same in Istio and trustgate.
 */
import type { RequestSettings } from "../extauthz/from-check-request.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import { Attribute, isHttpOnly } from "../policy/attributes.js";
import type { CompiledPolicy, CompiledRule, FieldCheck } from "../policy/compiled.js";
import { hasLiteralStar } from "../policy/matchers/istio-pattern.js";
import { isPathTemplate } from "../policy/matchers/path-template.js";

export interface TrapWarning {
  readonly rule: CompiledRule;
  readonly code: string;
  readonly message: string;
  readonly fix: string;
}

function checksOf(rule: CompiledRule): FieldCheck[] {
  return [...(rule.from ?? []).flat(), ...(rule.to ?? []).flat(), ...rule.when];
}

function hasPort(host: string): boolean {
  return /:(\d*|\*)$/.test(host) && !host.endsWith("]");
}

function hostWarnings(p: CompiledPolicy, rule: CompiledRule, check: FieldCheck): TrapWarning[] {
  if (check.negate) return [];
  const out: TrapWarning[] = [];
  for (const v of check.written) {
    if (v === "*" || v.startsWith("*") || hasPort(v)) continue;
    const bare = v.replace(/\.+$/, "");
    if (p.action === "DENY") {
      out.push({
        rule,
        code: "deny-host-trap",
        message: `${check.field} value "${v}": Istio compares the whole :authority, so in Istio this DENY misses "${bare}:8080" and "${bare}." — trustgate denies those too`,
        fix: `list every form for the same decision in Istio: ["${bare}", "${bare}:*", "${bare}.", "${bare}.:*"] (or allow hosts positively with an ALLOW policy)`,
      });
    } else if (p.action === "ALLOW" && !check.written.includes(`${v}:*`)) {
      out.push({
        rule,
        code: "allow-host-without-port",
        message: `${check.field} value "${v}" only matches a Host without a port, as in Istio: a client sending "${v}:8080" is not allowed by it`,
        fix: `add "${v}:*" if requests with a port should be allowed too`,
      });
    }
  }
  return out;
}

function principalWarnings(p: CompiledPolicy, rule: CompiledRule, check: FieldCheck): TrapWarning[] {
  const out: TrapWarning[] = [];
  for (const v of check.written) {
    if (v.startsWith("spiffe://")) {
      const body = v.slice("spiffe://".length);
      out.push({
        rule,
        code: "principal-with-scheme",
        message:
          p.action === "DENY" && !check.negate
            ? `${check.field} value "${v}": Istio puts spiffe:// in front of every principal, so it never matches in Istio — trustgate's DENY matches it anyway`
            : `${check.field} value "${v}": Istio puts spiffe:// in front of every principal, so this value never matches (in Istio and in trustgate)`,
        fix: `write "${body}"`,
      });
      continue;
    }
    if (v === "*" || v.startsWith("*")) continue;
    const literalStar = hasLiteralStar(v);
    const exact = !v.endsWith("*");
    const parsed = exact && !literalStar ? parseSpiffeId(`spiffe://${v}`) : null;
    if (literalStar || (parsed !== null && !parsed.ok)) {
      out.push({
        rule,
        code: "principal-never-matches",
        message: literalStar
          ? `${check.field} value "${v}": a '*' in the middle is a literal character, so this never matches a SPIFFE ID`
          : `${check.field} value "${v}" can never match a SPIFFE ID: ${parsed !== null && !parsed.ok ? parsed.error : ""}`,
        fix: literalStar
          ? 'use a prefix ("cluster.local/ns/x/*") or a suffix ("*/sa/x"), or namespaces/serviceAccounts'
          : "write <trust-domain>/ns/<namespace>/sa/<serviceaccount>",
      });
    }
  }
  return out;
}

function pathWarnings(p: CompiledPolicy, rule: CompiledRule, check: FieldCheck): TrapWarning[] {
  const out: TrapWarning[] = [];
  for (const v of check.written) {
    if (!isPathTemplate(v) && hasLiteralStar(v)) {
      out.push({
        rule,
        code: "literal-star",
        message: `${check.field} value "${v}": a '*' in the middle of a path is a literal character (Istio), so it only matches that exact text`,
        fix: `use a path template: "${v.replace(/\*/g, "{*}")}"`,
      });
    }
  }
  if (p.action !== "DENY" || check.negate) return out;
  out.push({
    rule,
    code: "deny-path-trap",
    message: `${check.field}: Istio matches the path exactly as the proxy forwards it, so in Istio this DENY misses "//" runs, ";parameters", other letter cases and a trailing "/" that many servers read as the same path — trustgate denies those too`,
    fix: "for the same decision in Istio, set meshConfig.pathNormalization to MERGE_SLASHES or stricter and list the ';*', case and trailing-'/' variants your servers accept, or allow paths positively with an ALLOW policy",
  });
  for (const v of check.written) {
    const base = v.endsWith("/*") ? v.slice(0, -2) : v.endsWith("/{**}") ? v.slice(0, -5) : null;
    if (base !== null && base !== "" && !check.written.includes(base)) {
      out.push({
        rule,
        code: "deny-prefix-without-base",
        message: `${check.field} value "${v}" does not cover "${base}" itself, in Istio or trustgate`,
        fix: `add "${base}" to the paths`,
      });
    }
  }
  return out;
}

function requestPrincipalWarnings(rule: CompiledRule, check: FieldCheck): TrapWarning[] {
  const out: TrapWarning[] = [];
  for (const v of check.written) {
    const slash = v.lastIndexOf("/");
    const issuerOnly = slash === -1 || v.slice(0, slash).endsWith(":/");
    if (v !== "*" && issuerOnly && !v.startsWith("*") && !v.endsWith("*")) {
      const reading =
        slash === -1
          ? `issuer "${v}" with an EMPTY subject`
          : `issuer "${v.slice(0, slash)}" and subject "${v.slice(slash + 1)}"`;
      out.push({
        rule,
        code: "request-principal-without-subject",
        message: `${check.field} value "${v}" names no subject: Istio splits it at the last "/" and reads ${reading}, so it never matches a normal token`,
        fix: `write "${v}/*" for any subject of that issuer`,
      });
    }
    if (v === "*/*") {
      out.push({
        rule,
        code: "request-principal-star-star",
        message: `${check.field} value "*/*" means any issuer with the subject "*" literally`,
        fix: 'write "*" for any request principal',
      });
    }
  }
  return out;
}

/** Warnings about a rule as a whole: how istiod reads its lists. */
function ruleWarnings(p: CompiledPolicy, rule: CompiledRule): TrapWarning[] {
  const out: TrapWarning[] = [];
  for (const key of rule.emptyLists) {
    out.push({
      rule,
      code: "empty-rule-list",
      message: `"${key}: []" is read as no "${key}" at all — any ${key === "from" ? "source" : "operation"} — by istiod (a protobuf list cannot be present and empty) and by trustgate`,
      fix: `omit "${key}" if any ${key === "from" ? "source" : "operation"} is meant, or list the ones meant`,
    });
  }
  for (const reason of rule.unbuildable) {
    out.push({
      rule,
      code: "condition-never-built",
      message: `${reason}: ${p.action === "ALLOW" ? "istiod skips this ALLOW rule, so it never matches" : `istiod leaves the condition out, so this rule ${p.action === "DENY" ? "denies" : "audits"} whatever its other fields match`} (trustgate decides the same)`,
      fix: "name the header or claim in brackets right after the prefix: request.headers[x-name], request.auth.claims[name]",
    });
  }
  if (p.action !== "ALLOW" || !rule.readsHttpOnly) return out;
  // Only where the rule would match a TCP request but for the HTTP-only field in another entry: a `from` and a `to`
  // entry (or no `from`/`to`) and the `when` conditions without one.
  const tcpOnly = (clause: readonly FieldCheck[]) => clause.every((check) => !isHttpOnly(check.attribute));
  const tcpFrom = rule.from === null ? true : rule.from.find(tcpOnly);
  const tcpTo = rule.to === null ? true : rule.to.find(tcpOnly);
  const tcpEntry = typeof tcpFrom === "object" ? tcpFrom : typeof tcpTo === "object" ? tcpTo : undefined;
  if (tcpFrom !== undefined && tcpTo !== undefined && tcpEntry !== undefined && tcpOnly(rule.when)) {
    const fields = [
      ...new Set(
        checksOf(rule)
          .filter((c) => isHttpOnly(c.attribute))
          .map((c) => c.field),
      ),
    ];
    out.push({
      rule,
      code: "allow-rule-http-only-on-tcp",
      message: `on a TCP connection Istio skips this whole ALLOW rule because ${fields.join(", ")} ${fields.length > 1 ? "are" : "is"} HTTP-only, so the entry ${tcpEntry[0]!.field.split(".")[0]} does not allow TCP traffic on its own (trustgate decides the same)`,
      fix: "move the entries meant for TCP traffic into a rule of their own",
    });
  }
  return out;
}

export function trapWarnings(p: CompiledPolicy, request: RequestSettings | undefined): TrapWarning[] {
  const out: TrapWarning[] = [];
  for (const rule of p.rules) {
    out.push(...ruleWarnings(p, rule));
    for (const check of checksOf(rule)) {
      switch (check.attribute) {
        case Attribute.Host:
          out.push(...hostWarnings(p, rule, check));
          break;
        case Attribute.SourcePrincipal:
          out.push(...principalWarnings(p, rule, check));
          break;
        case Attribute.Path:
          out.push(...pathWarnings(p, rule, check));
          break;
        case Attribute.Method:
          if (p.action === "DENY" && !check.negate) {
            out.push({
              rule,
              code: "deny-method-case",
              message: `${check.field}: Istio compares the method case-sensitively, so in Istio this DENY misses an HTTP/2 request sent with ":method: ${(check.written[0] ?? "delete").toLowerCase()}", which servers such as Django's class-based views read as the same method — trustgate denies every letter case`,
              fix: "for the same decision in Istio, allow methods positively with an ALLOW policy (its methods only match the upper-case spelling)",
            });
          }
          break;
        case Attribute.RequestPrincipal:
          out.push(...requestPrincipalWarnings(rule, check));
          break;
        case Attribute.Header:
          if (p.action === "ALLOW" && !check.negate && check.written.includes("*")) {
            out.push({
              rule,
              code: "header-presence",
              message: `${check.field} values ["*"]: Istio's documentation says "not empty", but Istio lets an empty header through; trustgate's ALLOW also requires it to be non-empty`,
              fix: 'to decide the same in Istio, require a concrete value or prefix instead of "*"',
            });
          }
          break;
        case Attribute.SourceIp:
        case Attribute.DestinationIp:
        case Attribute.RemoteIp:
          if (p.action === "DENY" && !check.negate && check.written.some((v) => !v.includes(":"))) {
            out.push({
              rule,
              code: "deny-ip-mapped",
              message: `${check.field}: Envoy's CIDR ranges never match an address of the other family, so in Istio this DENY misses a caller reported in IPv4-mapped IPv6 form (::ffff:10.1.2.3) — trustgate denies that form too`,
              fix: 'for the same decision in Istio, list the mapped range as well (10.1.0.0/16 → "::ffff:10.1.0.0/112"), or allow addresses positively with an ALLOW policy',
            });
          }
          if (
            check.attribute === Attribute.RemoteIp &&
            p.action === "DENY" &&
            !check.negate &&
            (request?.numTrustedProxies ?? 0) === 0
          ) {
            out.push({
              rule,
              code: "deny-remote-ip-spoofable",
              message: `${check.field}: with no trusted proxies (a sidecar), remote.ip is the right-most x-forwarded-for entry, which any client can write — this DENY is bypassed by a forged header, in Istio and trustgate`,
              fix: "use ipBlocks (the direct peer) at sidecars; use remoteIpBlocks only at gateways with remoteIp.numTrustedProxies set",
            });
          }
          break;
        case Attribute.Sni:
          out.push({
            rule,
            code: "sni-needs-tls-session",
            message: `${check.field}: the SNI reaches trustgate only when Envoy's ext_authz sends the TLS session (include_tls_session; Istio's CUSTOM provider never does). Without it this check fails in ALLOW rules and matches in DENY rules`,
            fix: "set include_tls_session: true on the ext_authz filter, or do not rely on connection.sni",
          });
          break;
        default:
          break;
      }
      if (
        (check.attribute === Attribute.RequestPrincipal || check.attribute === Attribute.RequestClaim) &&
        !(request?.jwt.enabled ?? false)
      ) {
        out.push({
          rule,
          code: "jwt-not-forwarded",
          message: `${check.field}: jwt.enabled is off, so JWT facts are unknown unless Envoy forwards them: ALLOW rules using them never match, DENY rules using them match every HTTP request`,
          fix: "run Envoy's jwt_authn before ext_authz, add metadata_context_namespaces: [envoy.filters.http.jwt_authn] to the ext_authz filter and set jwt.enabled: true",
        });
      }
      if (
        (check.attribute === Attribute.Host || check.attribute === Attribute.Method) &&
        check.written.some(hasLiteralStar)
      ) {
        out.push({
          rule,
          code: "literal-star",
          message: `${check.field}: a '*' in the middle of a value is a literal character (Istio), so it only matches that exact text`,
          fix: "use a prefix (x*) or suffix (*x) pattern",
        });
      }
    }
  }
  return out;
}
