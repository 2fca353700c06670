/**
 * `paths` / `notPaths`: Istio patterns and path templates against the request path (query and fragment cut off,
 * otherwise as Envoy forwarded it). `PathWideMatcher` is the DENY-only variant that also tries the path's other
 * readings (policy/path-readings.ts), ignoring case.
 */
import type { RequestModel } from "../../model/request-model.js";
import { asciiLowerCase } from "../../util/ascii.js";
import { pathReadings } from "../path-readings.js";
import { type Pattern, PatternSet } from "./istio-pattern.js";
import type { Matcher } from "./matcher.js";

export type PathPattern = { kind: "string"; pattern: Pattern } | { kind: "template"; regex: RegExp; wide: RegExp };

function split(patterns: readonly PathPattern[]): { strings: Pattern[]; templates: PathPattern[] } {
  return {
    strings: patterns.flatMap((p) => (p.kind === "string" ? [p.pattern] : [])),
    templates: patterns.filter((p) => p.kind === "template"),
  };
}

export class PathMatcher implements Matcher {
  private readonly strings: PatternSet;
  private readonly templates: RegExp[];

  constructor(patterns: readonly PathPattern[]) {
    const { strings, templates } = split(patterns);
    this.strings = new PatternSet(strings, { anyIncludesEmpty: false });
    this.templates = templates.map((t) => (t.kind === "template" ? t.regex : /$^/));
  }

  matches(model: RequestModel): boolean {
    const path = model.http?.path;
    if (path === undefined) return false;
    if (this.strings.test(path)) return true;
    for (const t of this.templates) if (t.test(path)) return true;
    return false;
  }
}

export class PathWideMatcher implements Matcher {
  private readonly strings: PatternSet;
  private readonly templates: RegExp[];

  constructor(patterns: readonly PathPattern[]) {
    const { strings, templates } = split(patterns);
    this.strings = new PatternSet(strings, { anyIncludesEmpty: false, transform: asciiLowerCase });
    this.templates = templates.map((t) => (t.kind === "template" ? t.wide : /$^/));
  }

  matches(model: RequestModel): boolean {
    if (model.http === null) return false;
    for (const reading of model.pathReadings(pathReadings)) {
      if (this.strings.test(reading)) return true;
      for (const t of this.templates) if (t.test(reading)) return true;
    }
    return false;
  }
}
