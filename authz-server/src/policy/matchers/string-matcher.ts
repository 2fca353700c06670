/**
 * A string attribute against Istio patterns: headers, methods, SNI, trustgate's certificate and risk keys. An absent
 * value (a header that was not sent) matches nothing, as in Envoy's header matcher.
 */
import type { RequestModel } from "../../model/request-model.js";
import { type Pattern, type PatternOptions, PatternSet } from "./istio-pattern.js";
import type { Matcher, Reader } from "./matcher.js";

export class StringMatcher implements Matcher {
  private readonly set: PatternSet;

  constructor(
    private readonly read: Reader,
    patterns: readonly Pattern[],
    options: PatternOptions,
  ) {
    this.set = new PatternSet(patterns, options);
  }

  matches(model: RequestModel): boolean {
    const value = this.read(model);
    return value !== undefined && this.set.test(value);
  }
}
