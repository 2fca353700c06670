/**
 * A policy document that did not come from a file: an object read from the Kubernetes API (or an AdmissionReview).
 * Its origin names the object (`TrustgatePolicy payments/allow-frontend`) where a file document names file and
 * line; errors then point at the object and the field path, and carry line 0 (no line exists).
 */
import type { PolicyDocument } from "./compile-policy.js";

export function objectDocument(origin: string, value: unknown): PolicyDocument {
  return { file: origin, value, lineAt: () => 0 };
}
