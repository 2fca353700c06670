/**
 * What the primary process and its worker processes say to each other over the cluster IPC channel. The primary
 * owns every piece of shared state (policies, Falco risk, revocations) and pushes it to the workers on named state
 * channels: a whole snapshot (`replace`) when a worker starts or when the state is small, then `events` that the
 * workers replay in order. Adding a kind of state is adding a channel; nothing else in the protocol changes.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { RevocationRecord } from "../identity/revocation-record.js";
import type { EngineState } from "../risk/engine-state.js";
import type { SharedEvent } from "../risk/shared-event.js";
import type { Workload } from "../workloads/workload-index.js";
import type { SourceInputs } from "./policy-inputs.js";
import type { TransferredDocument } from "./policy-worker-protocol.js";

/** The state channels and what travels on each. */
export interface StateChannels {
  /** The active policy set as what it was built from (checked documents, other sources' objects); every worker builds the same. */
  readonly policies: { readonly replace: PolicySnapshot; readonly event: never };
  /** Falco risk: the engine's state, then every change applied to it. */
  readonly risk: { readonly replace: EngineState; readonly event: SharedEvent };
  /** Operator revocations: every record, then every record that changes the list (merged as replicas merge). */
  readonly revocations: { readonly replace: readonly RevocationRecord[]; readonly event: RevocationRecord };
  /** The pods behind cluster destination labels (with `policies.kubernetes.podLabels`): the list, then the watch. */
  readonly pods: { readonly replace: readonly V1Pod[]; readonly event: PodEvent };
}

/** A step of the pod watch, as the pod directory tells its observers. */
export type PodEvent =
  | { readonly op: "start" }
  | { readonly op: "end" }
  | { readonly op: "put"; readonly pod: V1Pod }
  | { readonly op: "remove"; readonly pod: V1Pod };
export type ChannelName = keyof StateChannels;

export interface PolicySnapshot {
  readonly version: string;
  readonly rootNamespace: string;
  /** The policy files' documents as the policy worker thread checked them, and their digest. */
  readonly documents: readonly TransferredDocument[];
  readonly digest: string;
  readonly sources: readonly SourceInputs[];
}

/**
 * The file descriptor at which a worker finds the primary's stdout, when the workers write their lines to it directly
 * (observability/shared-output.ts); the worker's own stdout (1) stays a pipe to the primary, for longer lines.
 */
export const SHARED_STDOUT_FD = 4;

export type ToWorker =
  | {
      readonly t: "trustgate:init";
      readonly workerId: number;
      /** The configuration the primary resolved (secrets the workers do not need are blanked). */
      readonly config: Config;
      readonly workloads: readonly Workload[];
      /** The primary has cluster destination labels: the worker keeps them from the pods channel. */
      readonly podLabels: boolean;
      /** Write log lines to SHARED_STDOUT_FD directly; `outputHeld`: held until the primary's next release. */
      readonly sharedOutput: boolean;
      readonly outputHeld: boolean;
    }
  | {
      readonly t: "trustgate:state";
      readonly channel: ChannelName;
      /** When the primary sent it (Date.now()): workers measure how long state takes to reach them. */
      readonly sentMs: number;
      /** Rises with every state message; the worker answers `state-applied` with it once applied. */
      readonly seq: number;
      readonly replace?: unknown;
      readonly events?: readonly unknown[];
    }
  | { readonly t: "trustgate:metrics-request"; readonly id: number }
  /** Stop writing to the shared stdout and answer `output-held` (the primary writes a line too long to be atomic). */
  | { readonly t: "trustgate:output-hold"; readonly seq: number }
  | { readonly t: "trustgate:output-release" }
  /** Comes with a client's gRPC connection (the socket travels as the message's handle, not yet read from). */
  | { readonly t: "trustgate:connection" }
  | { readonly t: "trustgate:drain"; readonly graceMs: number };

export type FromWorker =
  /** The worker listens for messages now (anything sent before could be lost): the primary sends init and state. */
  | { readonly t: "trustgate:hello" }
  | { readonly t: "trustgate:ready" }
  /** No write to the shared stdout is in flight, and none starts until the release. */
  | { readonly t: "trustgate:output-held"; readonly seq: number }
  /** A connection the primary handed over has closed: the primary counts each worker's open connections. */
  | { readonly t: "trustgate:connection-closed" }
  | { readonly t: "trustgate:failed"; readonly error: string }
  | { readonly t: "trustgate:policy-active"; readonly version: string }
  /** Every state message up to `seq` is applied: Checks from here on see it. */
  | { readonly t: "trustgate:state-applied"; readonly seq: number }
  /** Checks since the last report whose caller had an identity, and of those, how many carried a certificate. */
  | { readonly t: "trustgate:sightings"; readonly identities: number; readonly certificates: number }
  | { readonly t: "trustgate:metrics"; readonly id: number; readonly metrics: unknown };

function isOurs(message: unknown): boolean {
  const t = (message as { t?: unknown } | null)?.t;
  return typeof t === "string" && t.startsWith("trustgate:");
}

/** Ours, not another library's (prom-client and cluster itself use the same channel). */
export function isToWorker(message: unknown): message is ToWorker {
  return isOurs(message);
}

export function isFromWorker(message: unknown): message is FromWorker {
  return isOurs(message);
}

/** The configuration as a worker gets it: what it does not use and must not hold (secrets) is blanked. */
export function workerConfig(config: Config): Config {
  return {
    ...config,
    http: { ...config.http, adminToken: "", adminTokenFile: "" },
    falco: { ...config.falco, token: "", tokenFile: "" },
    redis: { ...config.redis, url: "", eventKey: "", eventKeyFile: "" },
  };
}
