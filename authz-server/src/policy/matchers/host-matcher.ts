/**
 * Istio `hosts` matching: case-insensitive, and a host written without a port also matches the request's
 * `:authority` with a port (`api.example.com` matches `api.example.com:8080`).
 */
import { type Matcher, type Pattern, StringMatcher } from "./string-matcher.js";

function withoutPort(authority: string): string {
  // IPv6 literals keep their brackets: "[::1]:8080" → "[::1]".
  const close = authority.lastIndexOf("]");
  const colon = authority.lastIndexOf(":");
  return colon > close ? authority.slice(0, colon) : authority;
}

export class HostMatcher implements Matcher {
  private readonly strings: StringMatcher;

  constructor(patterns: readonly Pattern[]) {
    this.strings = new StringMatcher(patterns, (s) => s.toLowerCase());
  }

  /** `host` is already lower-cased by the request model. */
  matches(host: string): boolean {
    if (this.strings.matches(host)) return true;
    const bare = withoutPort(host);
    return bare !== host && this.strings.matches(bare);
  }
}
