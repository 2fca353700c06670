/**
 * The destination workload a CheckRequest is about: its namespace (which policies apply) and labels (which
 * selectors match), from what the sidecar itself reports.
 */
import { kubernetesNamespaceOf, type SpiffeId } from "../identity/spiffe-id.js";

/** Trusted hints a sidecar can put in its per-route `check_settings.context_extensions`. */
export const NAMESPACE_EXTENSION = "trustgate.namespace";
export const LABEL_EXTENSION_PREFIX = "trustgate.label.";

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** From the destination's SPIFFE ID (`/ns/<namespace>/…`), else the `trustgate.namespace` hint; "" when unknown. */
export function destinationNamespace(
  destinationId: SpiffeId | null,
  extensions: Readonly<Record<string, string>> | undefined,
): string {
  const fromId = destinationId === null ? "" : kubernetesNamespaceOf(destinationId.path);
  if (fromId !== "") return fromId;
  return extensions && Object.hasOwn(extensions, NAMESPACE_EXTENSION) ? extensions[NAMESPACE_EXTENSION]! : "";
}

/** Whether the sidecar put `trustgate.label.<name>` hints in its context_extensions. */
export function hasLabelHints(extensions: Readonly<Record<string, string>> | undefined): boolean {
  for (const k in extensions) if (k.startsWith(LABEL_EXTENSION_PREFIX)) return true;
  return false;
}

/** Precedence: inventory < `destination.labels` < `trustgate.label.<name>` hints (both set by the sidecar itself). */
export function destinationLabels(
  labels: Readonly<Record<string, string>> | undefined,
  extensions: Readonly<Record<string, string>> | undefined,
  inventory: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> {
  let hasLabels = false;
  for (const _ in labels) {
    hasLabels = true;
    break;
  }
  const hasHints = hasLabelHints(extensions);
  if (!hasHints) {
    if (!inventory) return hasLabels ? labels! : EMPTY_LABELS;
    if (!hasLabels) return inventory;
  }
  // No prototype: a label named `__proto__` or `constructor` is an ordinary key.
  const merged: Record<string, string> = Object.create(null);
  for (const source of [inventory, labels]) {
    if (source) for (const k of Object.keys(source)) merged[k] = source[k]!;
  }
  for (const k in extensions) {
    if (k.startsWith(LABEL_EXTENSION_PREFIX)) merged[k.slice(LABEL_EXTENSION_PREFIX.length)] = extensions[k]!;
  }
  return merged;
}
