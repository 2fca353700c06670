/**
 * Istio path templates (Istio ≥ 1.22): `{*}` and `{**}` segments, turned into the regular expression Envoy's
 * uri_template matcher builds, and validated the way istiod validates them plus what Envoy's parser refuses.
 *
 * Envoy: `{*}` is one non-empty segment of `[a-zA-Z0-9-._~%!$&'()+,;:@]` (RFC 3986 pchar without `*` and `=`);
 * `{**}` is zero or more of those characters and `/`; literal segments match themselves; the whole path (query and
 * fragment cut off) must match. So `/allow/admin/{**}` matches `/allow/admin/` but not `/allow/admin`, and
 * `/store/{**}/cart` matches `/store//cart` and `/store/a/b/cart` but not `/store/cart`.
 */

export const MATCH_ONE = "{*}";
export const MATCH_ANY = "{**}";

const PCHAR = "a-zA-Z0-9\\-._~%!$&'()+,;:@";
const ONE_SEGMENT = `[${PCHAR}]+`;
const ANY_TEXT = `[${PCHAR}/]*`;
/** istiod's check for the other segments of a template path. */
const ISTIO_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;
/** What Envoy's template parser accepts in a literal (no `=`). */
const ENVOY_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@]*$/;

export function isPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * istiod's path validation (run on every `paths`/`notPaths` value, template or not): returns the reason a path is
 * refused, or null.
 */
export function istioPathProblem(path: string): string | null {
  const template = isPathTemplate(path);
  let sawAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, "").split("/")) {
    if (glob === MATCH_ONE && !sawAny) continue;
    if (glob === MATCH_ANY && !sawAny) {
      sawAny = true;
      continue;
    }
    if (glob === MATCH_ONE || glob === MATCH_ANY) return "'{**}' must be the last operator of a path template";
    if (glob.includes("{") || glob.includes("}"))
      return "'{' and '}' are only allowed as a whole '{*}' or '{**}' segment of a path template";
    if (template && !ISTIO_LITERAL.test(glob)) {
      return `segment ${JSON.stringify(glob)} of a path template is not a valid literal (letters, digits and -._~%!$&'()+,;:@= only, no '*')`;
    }
  }
  return null;
}

export type TemplateResult = { ok: true; regex: RegExp } | { ok: false; error: string };

/**
 * Compiles a template istiod accepted into Envoy's regular expression. `lowerCase` builds the case-insensitive
 * variant used against lower-cased path readings in DENY rules.
 */
export function compilePathTemplate(path: string, lowerCase = false): TemplateResult {
  const problem = istioPathProblem(path);
  if (problem !== null) return { ok: false, error: problem };
  if (!path.startsWith("/")) return { ok: false, error: "a path template must start with '/' (Envoy refuses it)" };
  const segments = path.slice(1).split("/");
  const parts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === MATCH_ONE) parts.push(ONE_SEGMENT);
    else if (segment === MATCH_ANY) parts.push(ANY_TEXT);
    else if (segment === "" && i !== segments.length - 1) {
      return { ok: false, error: "a path template cannot contain an empty segment ('//')" };
    } else if (!ENVOY_LITERAL.test(segment)) {
      return { ok: false, error: `segment ${JSON.stringify(segment)}: Envoy's path templates do not accept '='` };
    } else parts.push(escapeRegex(lowerCase ? segment.toLowerCase() : segment));
  }
  return { ok: true, regex: new RegExp(`^/${parts.join("/")}$`) };
}
