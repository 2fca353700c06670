/**
 * What answers Checks in a serving process: telemetry, the decision log, the Authorizer and the gRPC listener, over
 * policies, risk and revocations that the caller owns. The single process (`workers: 1`) and every worker process
 * build exactly this; they differ only in where the state comes from (files and ingest, or the primary).
 */
import type { Config } from "../config/schema.js";
import { Authorizer, type AuthorizerDeps } from "../engine/authorizer.js";
import type { CertificateSightings } from "../engine/certificate-sightings.js";
import type { RequestSettings } from "../extauthz/from-check-request.js";
import { GrpcServer } from "../grpc/grpc-server.js";
import type { RevocationLookup } from "../identity/caller-identity.js";
import { CertificateCache } from "../identity/certificate-cache.js";
import type { RiskView } from "../model/risk-view.js";
import { sensitiveHeaders } from "../model/sensitive-headers.js";
import { DecisionLog } from "../observability/decision-log.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import { within } from "../util/within.js";
import { startTelemetry } from "./telemetry.js";

export interface CheckServiceDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly policies: PolicyHolder;
  readonly risk: RiskView;
  readonly revocations: RevocationLookup;
  readonly labelsOf: ((spiffeId: string) => Readonly<Record<string, string>> | undefined) | undefined;
  /** Destination labels from the cluster (the pod watch), when configured. */
  readonly clusterLabelsOf?: AuthorizerDeps["clusterLabelsOf"];
  /** How users set the gRPC address, for a listen error. */
  readonly addressSetting?: string;
  /** What the proxy in front of trustgate is like (settings.ts). */
  readonly request: RequestSettings;
  /** Counts Checks that carried the caller's certificate (the revocation endpoint asks). */
  readonly sightings: CertificateSightings;
  /** Fields on every decision line after `service` (the worker number in a worker process). */
  readonly logFields?: Readonly<Record<string, string | number>>;
}

/** Listening, health and draining: what the process wiring does with a Check service (or a pool of workers). */
export interface CheckServing {
  /** Binds and starts serving; resolves with the bound TCP port (0 for unix sockets). */
  listen(): Promise<number>;
  /** gRPC health: SERVING or NOT_SERVING. */
  setServing(serving: boolean): void;
  /**
   * Stops accepting calls and finishes in-flight ones (forced after `graceMs`), then exports what telemetry is
   * buffered (for what remains of `graceMs`, at least MIN_TELEMETRY_FLUSH_MS).
   */
  shutdown(graceMs: number): Promise<void>;
}

export interface CheckService extends CheckServing {
  readonly authorizer: Authorizer;
  readonly grpc: GrpcServer;
  /**
   * shutdown() without the telemetry export: stops accepting calls, finishes in-flight ones (forced after `graceMs`)
   * and writes out the decision log. The caller saves its state, then calls flushTelemetry.
   */
  drain(graceMs: number): Promise<void>;
  /**
   * Exports buffered traces and shipped decision logs, giving up after `deadlineMs`: a collector that has stopped
   * answering must not hold the exit (the exporters' own timeout is 10 s).
   */
  flushTelemetry(deadlineMs: number): Promise<void>;
}

/** The least time the telemetry export gets at shutdown, when the grace period is already used up. */
export const MIN_TELEMETRY_FLUSH_MS = 500;

export async function createCheckService(deps: CheckServiceDeps): Promise<CheckService> {
  const { config, logger, metrics } = deps;
  const telemetry = await startTelemetry(config, deps.env, metrics, logger);
  const decisionLog = new DecisionLog(
    logger,
    {
      mode: config.log.decisions,
      sampleRate: config.log.sampleRate,
      sensitiveHeaders: sensitiveHeaders(config.log.redactHeaders),
      allowHeaders: config.log.allowHeaders,
      fields: deps.logFields,
      afterResponse: true,
    },
    Math.random,
    telemetry.shipper,
  );
  const authorizer = new Authorizer({
    policies: deps.policies,
    identity: {
      trustDomains: new Set(config.identity.trustDomains),
      trustFilterHeaders: config.identity.trustFilterHeaders,
      revocations: deps.revocations,
    },
    certificates: new CertificateCache(),
    risk: deps.risk,
    labelsOf: deps.labelsOf,
    clusterLabelsOf: deps.clusterLabelsOf,
    request: deps.request,
    metrics,
    decisionLog,
    logger,
    dryRun: config.policies.dryRun,
    sightings: deps.sightings,
    tracer: telemetry.tracing.tracer,
  });
  const grpc = new GrpcServer({
    address: config.grpc.addr,
    maxMessageBytes: config.grpc.maxMessageBytes,
    authorizer,
    logger,
    addressSetting: deps.addressSetting,
  });
  const drain = async (graceMs: number) => {
    await grpc.shutdown(graceMs);
    decisionLog.flush();
  };
  const flushTelemetry = async (deadlineMs: number) => {
    if (!(await within(telemetry.shutdown(), deadlineMs))) {
      logger.warn(
        { event: "telemetry flush timed out", deadline_ms: deadlineMs },
        `traces and shipped decision logs not exported within ${deadlineMs} ms (collector not answering); exiting without them`,
      );
    }
  };
  return {
    authorizer,
    grpc,
    listen: () => grpc.listen(),
    setServing: (serving) => grpc.setServing(serving),
    drain,
    flushTelemetry,
    async shutdown(graceMs) {
      const started = Date.now();
      await drain(graceMs);
      // What is left of the grace period, and a little at least.
      await flushTelemetry(Math.max(MIN_TELEMETRY_FLUSH_MS, graceMs - (Date.now() - started)));
    },
  };
}
