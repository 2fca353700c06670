/**
 * A compiled check of one request attribute. Matchers read what they need from the request model themselves, so a
 * field check is one call; they are built once per policy set and never allocate per request unless noted.
 */
import type { RequestModel } from "../../model/request-model.js";

export interface Matcher {
  matches(model: RequestModel): boolean;
}

/** Reads one string attribute; undefined when the request does not carry it (a header not sent, no identity). */
export type Reader = (model: RequestModel) => string | undefined;
