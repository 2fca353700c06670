/**
 * Which workload an alert is about. Falco reports containers, pods and namespaces but never a service account, so a
 * strategy chosen in configuration turns `output_fields` into a SPIFFE ID — or says plainly that it cannot. It never
 * guesses: an alert it cannot attribute is counted as unattributed and adds risk to nobody.
 */

/** Why an alert could not be attributed (a fixed set: it is a metric label). */
export type UnattributedReason =
  /** The identifying fields are absent or placeholders (null, "<NA>", "", "host"). */
  | "unknown-workload"
  /** The fields are known but nothing maps them (no inventory entry, no such pod, no label). */
  | "no-match"
  /** More than one workload matches (static inventory). */
  | "ambiguous"
  /** The mapping produced something that is not an acceptable SPIFFE ID. */
  | "invalid-identity"
  /** The Kubernetes API could not be asked. */
  | "lookup-failed"
  /** A Kubernetes API caller that is a person, a node or the control plane, not a workload's service account. */
  | "not-a-workload"
  /** The configured strategy cannot map this kind of subject (the `label` strategy and a pod named by an audit alert). */
  | "unsupported";

export const UNATTRIBUTED_REASONS: readonly UnattributedReason[] = [
  "unknown-workload",
  "no-match",
  "ambiguous",
  "invalid-identity",
  "lookup-failed",
  "not-a-workload",
  "unsupported",
];

export type MappingOutcome =
  | { readonly ok: true; readonly spiffeId: string }
  | { readonly ok: false; readonly reason: UnattributedReason; readonly detail: string };

export type OutputFields = Readonly<Record<string, unknown>>;

export interface WorkloadMapper {
  readonly strategy: "static" | "kubernetes" | "label";
  /** Synchronous when the answer is in memory; a promise only when it must be fetched (a Kubernetes cache miss). */
  map(fields: OutputFields): MappingOutcome | Promise<MappingOutcome>;
  /** The workload of the pod `namespace/pod`, known only by name (a pod a Kubernetes API request targeted). */
  mapPod(namespace: string, pod: string): MappingOutcome | Promise<MappingOutcome>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function mapped(spiffeId: string): MappingOutcome {
  return { ok: true, spiffeId };
}

export function unattributed(reason: UnattributedReason, detail: string): MappingOutcome {
  return { ok: false, reason, detail };
}

/**
 * Where Falco writes `"host"` for a process outside any container. Only there: `host` is also a valid pod or namespace
 * name, and reading it as "unknown" everywhere made such a pod invisible to Falco risk.
 */
const HOST_PLACEHOLDER_KEYS: ReadonlySet<string> = new Set(["container.id", "container.name"]);

/**
 * A usable workload field value, or null for the values Falco uses when it does not know: `null`, `"<NA>"`, `""`,
 * and `"host"` as the container id or name of host processes. Non-strings are never identifiers.
 */
export function workloadValue(fields: OutputFields, key: string): string | null {
  const value = Object.hasOwn(fields, key) ? fields[key] : undefined;
  if (typeof value !== "string") return null;
  if (value === "" || value === "<NA>" || (value === "host" && HOST_PLACEHOLDER_KEYS.has(key))) return null;
  return value;
}
