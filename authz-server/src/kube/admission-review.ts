/**
 * The validating admission webhook's decision for TrustgatePolicy create and update: an `AdmissionReview`
 * (admission.k8s.io/v1) in, an AdmissionReview with the answer out. The object is compiled exactly as the live
 * source compiles it, so `kubectl apply` refuses what trustgate would refuse, with the same message; lint warnings
 * of an accepted object come back as admission warnings, which kubectl prints. Pure.
 */
import { z } from "zod";
import type { CompileOptions } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { TRUSTGATE_GROUP, TRUSTGATE_KIND } from "../policy/policy-kinds.js";
import { PolicySet } from "../policy/policy-set.js";
import { type LintContext, lintPolicySet } from "../policy-tools/lint.js";
import { firstIssue } from "../util/format-issues.js";
import { compileObject, objectOrigin, type TrustgatePolicyObject } from "./policy-object.js";

const ADMISSION_API_VERSION = "admission.k8s.io/v1";

const reviewSchema = z.looseObject({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal("AdmissionReview"),
  request: z.looseObject({
    uid: z.string().min(1),
    kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
    operation: z.string(),
    namespace: z.string().optional(),
    name: z.string().optional(),
    object: z.unknown().optional(),
  }),
});

export interface AdmissionResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: "AdmissionReview";
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
    readonly warnings?: readonly string[];
  };
}

export interface ReviewOptions {
  readonly rootNamespace: string;
  readonly trustDomains: readonly string[];
  /** The loader's compile options, so the webhook refuses exactly what the loader would. */
  readonly compile?: CompileOptions;
  /** What the proxy forwards, for lint (JWT metadata). */
  readonly request?: LintContext["request"];
}

/** The API server truncates longer warnings, and they must be one line. */
const MAX_WARNING = 256;

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= MAX_WARNING ? flat : `${flat.slice(0, MAX_WARNING - 1)}…`;
}

function answer(uid: string, allowed: boolean, message?: string, warnings?: string[]): AdmissionResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: "AdmissionReview",
    response: {
      uid,
      allowed,
      ...(allowed || message === undefined ? {} : { status: { code: 422, reason: "Invalid", message } }),
      ...(warnings && warnings.length > 0 ? { warnings } : {}),
    },
  };
}

/** An answer, or an error when the body is not an AdmissionReview at all (the listener answers 400). */
export function reviewAdmission(
  body: unknown,
  options: ReviewOptions,
): { ok: true; review: AdmissionResponse } | { ok: false; error: string } {
  const parsed = reviewSchema.safeParse(body);
  if (!parsed.success)
    return { ok: false, error: `not an admission.k8s.io/v1 AdmissionReview: ${firstIssue(parsed.error)}` };
  const request = parsed.data.request;
  const { uid } = request;
  if (request.kind.group !== TRUSTGATE_GROUP || request.kind.kind !== TRUSTGATE_KIND) {
    return {
      ok: true,
      review: answer(uid, false, `this webhook reviews ${TRUSTGATE_KIND} objects only, not ${request.kind.kind}`),
    };
  }
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return { ok: true, review: answer(uid, true) };
  const object = request.object;
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    return { ok: true, review: answer(uid, false, `${request.operation} of a ${TRUSTGATE_KIND} without an object`) };
  }
  // The API server fills in the namespace from the request path; be robust if an object arrives without it.
  const o = object as TrustgatePolicyObject;
  const metadata = { ...(o.metadata ?? {}) };
  if (metadata.namespace === undefined && request.namespace) metadata.namespace = request.namespace;
  if (metadata.name === undefined && request.name) metadata.name = request.name;
  const candidate: TrustgatePolicyObject = { ...o, metadata };
  const compiled = compileObject(candidate, options.compile);
  if (!compiled.ok) {
    return { ok: true, review: answer(uid, false, compiled.errors.map(formatLoadError).join("\n")) };
  }
  const set = new PolicySet([compiled.policy], options.rootNamespace, "admission");
  const warnings = lintPolicySet(set, {
    workloads: [],
    trustDomains: options.trustDomains,
    request: options.request,
  }).map((w) =>
    oneLine(
      `${objectOrigin(candidate)}${w.rule !== null ? ` rule ${w.rule}` : ""}: [${w.code}] ${w.message} (fix: ${w.fix})`,
    ),
  );
  return { ok: true, review: answer(uid, true, undefined, warnings) };
}
