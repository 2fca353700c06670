/**
 * The ext_authz gRPC call as Envoy makes it: the CheckRequest encoded with the complete upstream Envoy protos,
 * `Check` with a deadline (Envoy's grpc_service timeout), the response decoded with the same protos. An RPC failure
 * (unreachable, deadline, any non-OK gRPC status) is reported as an error for the caller's failure mode.
 */
// Registers google/protobuf/descriptor.proto (and other well-known files protobufjs lacks) with protobufjs; the
// upstream Envoy protos import it, and test/support/upstream-envoy.ts relies on it already being registered.
import "@grpc/proto-loader";
import { UpstreamCheckClient } from "../support/upstream-envoy.js";
import { type AuthzOutcome, interpretCheckResponse } from "./check-response.js";

export type CheckResult = { readonly ok: true; readonly outcome: AuthzOutcome } | { readonly ok: false; error: string };

export class ExtAuthzClient {
  private readonly client: UpstreamCheckClient;

  constructor(readonly address: string) {
    this.client = new UpstreamCheckClient(address);
  }

  async check(request: Record<string, unknown>, timeoutMs: number): Promise<CheckResult> {
    const bytes = this.client.encode(request);
    let raw: Buffer;
    try {
      raw = await this.client.checkRaw(bytes, timeoutMs);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const message = this.client.responseType.decode(raw);
    const decoded = this.client.responseType.toObject(message, { longs: Number, enums: Number, defaults: false });
    return { ok: true, outcome: interpretCheckResponse(decoded) };
  }

  close(): void {
    this.client.close();
  }
}
