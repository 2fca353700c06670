/**
 * The gRPC listener: envoy.service.auth.v3.Authorization/Check, grpc.health.v1.Health and server reflection, over
 * h2c on host:port or a unix socket (`unix:/path`). Only transport lives here: decisions come from the Authorizer,
 * the CheckResponse from the ext_authz translation.
 */
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type { Authorization } from "../engine/authorization.js";
import type { Authorizer } from "../engine/authorizer.js";
import { type CheckRequestMessage, undecodableRequest } from "../extauthz/check-request.js";
import type { CheckResponseMessage } from "../extauthz/check-response.js";
import { authorizationServiceDefinition } from "../extauthz/codec.js";
import { AUTHORIZATION_SERVICE, EXTERNAL_AUTH_PROTO, PROTO_DIR } from "../extauthz/proto-paths.js";
import { ResponseTemplates } from "../extauthz/response-templates.js";
import { type ResponseContext, toCheckResponse } from "../extauthz/to-check-response.js";
import { decision, INTERNAL_ERROR_POLICY } from "../model/decision.js";
import type { Logger } from "../observability/logger.js";
import { listenFailureMessage } from "../util/listen-failure.js";
import { HEALTH_PROTO, HealthService } from "./health-service.js";
import { addLazyReflection } from "./lazy-reflection.js";

const ANSWER_FAILED = decision("deny", "internal error while answering the Check", INTERNAL_ERROR_POLICY);
const NO_CONTEXT: ResponseContext = {
  decisionId: "",
  caller: "",
  policyVersion: "",
  removeHeaders: null,
  shadow: null,
};

function responseContext(a: Authorization): ResponseContext {
  return {
    decisionId: a.decisionId,
    caller: a.model?.source.principal ?? "",
    policyVersion: a.policyVersion,
    removeHeaders: a.spoofedHeaders,
    shadow: a.evaluation?.shadow ?? null,
  };
}

/** The engine's answer as Envoy's CheckResponse. */
export function checkResponseOf(a: Authorization): CheckResponseMessage {
  return toCheckResponse(a.decision, responseContext(a));
}

export interface GrpcServerOptions {
  readonly address: string;
  readonly maxMessageBytes: number;
  readonly authorizer: Authorizer;
  readonly logger: Logger;
  /** The flag, variable and key that choose the address, named when binding fails. */
  readonly addressSetting?: string;
}

/**
 * grpc-js writes its own errors to stderr ("E No address added out of total 1 resolved …"); trustgate reports
 * failures itself in one line, so grpc-js's lines go to the debug log.
 */
function routeGrpcLogs(logger: Logger): void {
  const write = (message: unknown, ...rest: unknown[]) =>
    logger.debug({ grpc: [message, ...rest].map(String).join(" ") }, "grpc-js");
  grpc.setLogger({ error: write, info: write, debug: write });
}

export class GrpcServer {
  readonly server: grpc.Server;
  readonly health = new HealthService({ "": "NOT_SERVING", [AUTHORIZATION_SERVICE]: "NOT_SERVING" });
  private boundPort = 0;

  constructor(private readonly options: GrpcServerOptions) {
    routeGrpcLogs(options.logger);
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": 4 * 1024 * 1024,
      "grpc.keepalive_permit_without_calls": 1,
      // Channelz keeps per-call statistics nobody reads here; off, a Check does less bookkeeping.
      "grpc.enable_channelz": 0,
    });
    const authorizer = options.authorizer;
    // The handler hands over encoded bytes (allow responses come from templates); anything else is encoded as usual.
    const definition = authorizationServiceDefinition();
    const check = definition.Check!;
    const encodeResponse = check.responseSerialize;
    const decodeRequest = check.requestDeserialize;
    const templates = new ResponseTemplates();
    this.server.addService(
      {
        Check: {
          ...check,
          // Bytes that are not a CheckRequest (corrupt, or nested past the decoder's recursion limit) are denied as
          // malformed; grpc-js would answer INTERNAL, and failure_mode_allow turns an error into an allow.
          requestDeserialize: (bytes: Buffer) => {
            try {
              return decodeRequest(bytes);
            } catch (err) {
              return undecodableRequest(err);
            }
          },
          responseSerialize: (r: CheckResponseMessage | Buffer) => (Buffer.isBuffer(r) ? r : encodeResponse(r)),
        },
      },
      {
        Check: (call: grpc.ServerUnaryCall<CheckRequestMessage, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          let response: Buffer;
          try {
            const a = authorizer.authorize(call.request);
            response = templates.encode(a.decision, responseContext(a));
          } catch (err) {
            // Whatever throws around the decision (metrics, logging, encoding) still gets a deny: a gRPC error is what
            // Envoy's failure_mode_allow turns into an allow.
            options.logger.error({ err }, "internal error while answering a Check; denying");
            response = encodeResponse(toCheckResponse(ANSWER_FAILED, NO_CONTEXT));
          }
          callback(null, response);
        },
      },
    );
    this.health.addToServer(this.server);
    addLazyReflection(this.server, [EXTERNAL_AUTH_PROTO, HEALTH_PROTO], [PROTO_DIR]);
  }

  /** Binds and starts serving; resolves with the bound TCP port (0 for unix sockets). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.options.address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          const setting = this.options.addressSetting ?? "grpc.addr";
          reject(new Error(listenFailureMessage("gRPC", this.options.address, err, setting)));
          return;
        }
        this.boundPort = port;
        resolve(port);
      });
    });
  }

  /**
   * Serves connections accepted elsewhere instead of binding an address: a worker process gets them from the
   * primary (app/connection-dispatch.ts). Returns what takes each one.
   */
  acceptHandedConnections(): (socket: Duplex) => void {
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    return (socket) => injector.injectConnection(socket);
  }

  get port(): number {
    return this.boundPort;
  }

  setServing(serving: boolean): void {
    const status = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", status);
    this.health.setStatus(AUTHORIZATION_SERVICE, status);
  }

  /**
   * Stops accepting calls and waits for in-flight ones; forces after `graceMs`. Health Watch streams are not work in
   * flight: they are ended at once (their clients have just been sent NOT_SERVING), or they would hold the shutdown
   * for the whole grace period.
   */
  shutdown(graceMs: number): Promise<void> {
    this.health.endWatches();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.options.logger.warn("in-flight gRPC calls did not finish in time; forcing shutdown");
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
