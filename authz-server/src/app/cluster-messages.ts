/**
 * What the primary process and its worker processes say to each other over the cluster IPC channel. The primary
 * owns every piece of shared state (policies, Falco risk, revocations) and pushes it to the workers on named state
 * channels: a whole snapshot (`replace`) when a worker starts or when the state is small, then `events` that the
 * workers replay in order. Adding a kind of state is adding a channel; nothing else in the protocol changes.
 */
import type { Config } from "../config/schema.js";
import type { RevocationRecord } from "../identity/revocation-record.js";
import type { PolicySource } from "../policy/load-policy-set.js";
import type { EngineState } from "../risk/engine-state.js";
import type { SharedEvent } from "../risk/shared-event.js";
import type { Workload } from "../workloads/workload-index.js";

/** The state channels and what travels on each. */
export interface StateChannels {
  /** The active policy set as the file texts it was compiled from; every worker compiles the same. */
  readonly policies: { readonly replace: PolicySnapshot; readonly event: never };
  /** Falco risk: the engine's state, then every change applied to it. */
  readonly risk: { readonly replace: EngineState; readonly event: SharedEvent };
  /** Operator revocations: every record, then every record that changes the list (merged as replicas merge). */
  readonly revocations: { readonly replace: readonly RevocationRecord[]; readonly event: RevocationRecord };
}
export type ChannelName = keyof StateChannels;

export interface PolicySnapshot {
  readonly version: string;
  readonly rootNamespace: string;
  readonly sources: readonly PolicySource[];
}

export type ToWorker =
  | {
      readonly t: "trustgate:init";
      readonly workerId: number;
      /** The configuration the primary resolved (secrets the workers do not need are blanked). */
      readonly config: Config;
      readonly workloads: readonly Workload[];
    }
  | {
      readonly t: "trustgate:state";
      readonly channel: ChannelName;
      /** When the primary sent it (Date.now()): workers measure how long state takes to reach them. */
      readonly sentMs: number;
      readonly replace?: unknown;
      readonly events?: readonly unknown[];
    }
  | { readonly t: "trustgate:metrics-request"; readonly id: number }
  | { readonly t: "trustgate:drain"; readonly graceMs: number };

export type FromWorker =
  /** The worker listens for messages now (anything sent before could be lost): the primary sends init and state. */
  | { readonly t: "trustgate:hello" }
  | { readonly t: "trustgate:ready"; readonly port: number }
  | { readonly t: "trustgate:failed"; readonly error: string }
  | { readonly t: "trustgate:policy-active"; readonly version: string }
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
