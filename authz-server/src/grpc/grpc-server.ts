/**
 * The gRPC listener: envoy.service.auth.v3.Authorization/Check, grpc.health.v1.Health and server reflection, over
 * h2c on host:port or a unix socket (`unix:/path`). Only transport lives here: decisions come from the Authorizer,
 * the CheckResponse from the ext_authz translation.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { Authorization } from "../engine/authorization.js";
import type { Authorizer } from "../engine/authorizer.js";
import type { CheckRequestMessage } from "../extauthz/check-request.js";
import type { CheckResponseMessage } from "../extauthz/check-response.js";
import { authorizationServiceDefinition } from "../extauthz/codec.js";
import { AUTHORIZATION_SERVICE, EXTERNAL_AUTH_PROTO, PROTO_DIR } from "../extauthz/proto-paths.js";
import { toCheckResponse } from "../extauthz/to-check-response.js";
import type { Logger } from "../observability/logger.js";
import { listenFailureMessage } from "../util/listen-failure.js";

/** The engine's answer as Envoy's CheckResponse. */
export function checkResponseOf(a: Authorization): CheckResponseMessage {
  return toCheckResponse(a.decision, {
    decisionId: a.decisionId,
    caller: a.model?.source.principal ?? "",
    policyVersion: a.policyVersion,
    removeHeaders: a.spoofedHeaders,
    shadow: a.evaluation?.shadow ?? null,
  });
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
  readonly health = new HealthImplementation({ "": "NOT_SERVING", [AUTHORIZATION_SERVICE]: "NOT_SERVING" });
  /** Open health Watch streams: they never end by themselves, so shutdown ends them (after NOT_SERVING is sent). */
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private boundPort = 0;

  constructor(private readonly options: GrpcServerOptions) {
    routeGrpcLogs(options.logger);
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": 4 * 1024 * 1024,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const authorizer = options.authorizer;
    this.server.addService(authorizationServiceDefinition(), {
      Check: (
        call: grpc.ServerUnaryCall<CheckRequestMessage, CheckResponseMessage>,
        callback: grpc.sendUnaryData<CheckResponseMessage>,
      ) => {
        callback(null, checkResponseOf(authorizer.authorize(call.request)));
      },
    });
    const watches = this.watches;
    this.health.addToServer({
      addService: (service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) => {
        const watch = implementation.watch as grpc.handleServerStreamingCall<unknown, unknown>;
        this.server.addService(service, {
          ...implementation,
          watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
            watches.add(call);
            call.on("cancelled", () => watches.delete(call));
            watch(call);
          },
        });
      },
    } as unknown as grpc.Server);
    const reflectionPackage = protoLoader.loadSync([EXTERNAL_AUTH_PROTO, healthProtoPath], {
      includeDirs: [PROTO_DIR],
      keepCase: true,
    });
    new ReflectionService(reflectionPackage).addToServer(this.server);
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
    for (const call of this.watches) call.end();
    this.watches.clear();
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
