/**
 * The complete upstream Envoy v3 API (as shipped in @grpc/grpc-js-xds under deps/), loaded with protobufjs, and a
 * gRPC client that talks to an ext_authz server with exactly those definitions — the way Envoy itself encodes a
 * CheckRequest and decodes the CheckResponse. Test tooling: trustgate's own server uses its own minimal protos.
 */
import { accessSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
// The upstream protos import google/protobuf/descriptor.proto (for their annotations); loading proto-loader
// registers protobufjs's bundled copy of it, which plain protobufjs does not do on its own.
import "@grpc/proto-loader";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);
const DEPS = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const INCLUDE = ["envoy-api", "googleapis", "protoc-gen-validate", "xds"].map((d) => join(DEPS, d));

let root: protobuf.Root | null = null;

export function upstreamRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    if (target.startsWith("google/protobuf/")) return target;
    for (const dir of INCLUDE) {
      const candidate = join(dir, target);
      try {
        accessSync(candidate);
        return candidate;
      } catch {
        // try the next include directory
      }
    }
    return target;
  };
  r.loadSync("envoy/service/auth/v3/external_auth.proto", { keepCase: false });
  r.resolveAll();
  root = r;
  return r;
}

export function upstreamType(name: string): protobuf.Type {
  return upstreamRoot().lookupType(name);
}

/** The CheckResponse as decoded by the upstream types (protobufjs message; field presence observable). */
export type UpstreamMessage = protobuf.Message & Record<string, unknown>;

export class UpstreamCheckClient {
  private readonly client: grpc.Client;
  readonly requestType = upstreamType("envoy.service.auth.v3.CheckRequest");
  readonly responseType = upstreamType("envoy.service.auth.v3.CheckResponse");

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  /** Encodes `request` (upstream JSON-ish field names, camelCase) with the upstream CheckRequest type. */
  encode(request: Record<string, unknown>): Buffer {
    const error = this.requestType.verify(request);
    if (error) throw new Error(`not a valid upstream CheckRequest: ${error}`);
    return Buffer.from(this.requestType.encode(this.requestType.fromObject(request)).finish());
  }

  /** Sends raw bytes on the Check method and returns the raw response bytes. */
  checkRaw(bytes: Buffer, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        "/envoy.service.auth.v3.Authorization/Check",
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        { deadline: Date.now() + timeoutMs },
        (err, response) => (err ? reject(err) : resolve(response!)),
      );
    });
  }

  async check(
    request: Record<string, unknown>,
  ): Promise<{ raw: Buffer; message: UpstreamMessage; object: Record<string, unknown> }> {
    const raw = await this.checkRaw(this.encode(request));
    const message = this.responseType.decode(raw) as UpstreamMessage;
    const object = this.responseType.toObject(message, { longs: Number, enums: String, defaults: false, oneofs: true });
    return { raw, message, object };
  }

  close(): void {
    this.client.close();
  }
}
