/**
 * Istio path matching: the string patterns of StringMatcher, plus URI templates where `{*}` matches exactly one path
 * segment and `{**}` matches one or more segments and must be the last operator. Templates compile to one anchored
 * regular expression at load time; no pattern is built per request.
 */
import { type Matcher, type Pattern, StringMatcher } from "./string-matcher.js";

export type PathPattern = { kind: "string"; pattern: Pattern } | { kind: "template"; regex: RegExp };

const SEGMENT_CHARS = "[^/]+";

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type TemplateResult = { ok: true; regex: RegExp } | { ok: false; error: string };

/** Compiles a path containing `{*}`/`{**}`. */
export function compilePathTemplate(raw: string): TemplateResult {
  if (!raw.startsWith("/")) return { ok: false, error: "a path template must start with '/'" };
  const segments = raw.slice(1).split("/");
  let source = "^";
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === "{*}") source += `/${SEGMENT_CHARS}`;
    else if (segment === "{**}") {
      if (i !== segments.length - 1) return { ok: false, error: "'{**}' must be the last segment of a path template" };
      source += "/.+";
    } else if (segment.includes("{") || segment.includes("}")) {
      return { ok: false, error: "'{*}' and '{**}' must each be a whole path segment" };
    } else if (segment.includes("*")) {
      return { ok: false, error: "a path template cannot also use '*' wildcards" };
    } else source += `/${escapeRegex(segment)}`;
  }
  return { ok: true, regex: new RegExp(`${source}$`) };
}

export class PathMatcher implements Matcher {
  private readonly strings: StringMatcher;
  private readonly templates: RegExp[];

  constructor(patterns: readonly PathPattern[]) {
    const strings: Pattern[] = [];
    const templates: RegExp[] = [];
    for (const p of patterns) {
      if (p.kind === "string") strings.push(p.pattern);
      else templates.push(p.regex);
    }
    this.strings = new StringMatcher(strings);
    this.templates = templates;
  }

  matches(path: string): boolean {
    if (this.strings.matches(path)) return true;
    for (const t of this.templates) if (t.test(path)) return true;
    return false;
  }
}
