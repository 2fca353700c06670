/**
 * A gRPC client for the Check service (used by `trustgate check`, the benchmark and tests). Sends the same bytes
 * Envoy would: a CheckRequest on /envoy.service.auth.v3.Authorization/Check.
 */
import * as grpc from "@grpc/grpc-js";
import type { CheckRequestMessage } from "../extauthz/check-request.js";
import type { CheckResponseMessage } from "../extauthz/check-response.js";
import { authorizationServiceDefinition } from "../extauthz/codec.js";

type CheckMethod = (
  request: CheckRequestMessage,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: CheckResponseMessage) => void,
) => void;

export class CheckClient {
  private readonly client: grpc.Client & { Check: CheckMethod };

  /** `options`: gRPC channel options, e.g. `grpc.use_local_subchannel_pool` for a connection of its own. */
  constructor(address: string, options: grpc.ChannelOptions = {}) {
    const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), "Authorization");
    this.client = new Client(address, grpc.credentials.createInsecure(), options) as unknown as grpc.Client & {
      Check: CheckMethod;
    };
  }

  check(request: CheckRequestMessage, timeoutMs = 5000): Promise<CheckResponseMessage> {
    return new Promise((resolve, reject) => {
      this.client.Check(request, { deadline: Date.now() + timeoutMs }, (err, response) => {
        if (err) reject(err);
        else resolve(response!);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
