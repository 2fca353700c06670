/**
 * The standard gRPC health service (`grpc.health.v1.Health`: Check, Watch, List) that Kubernetes probes, Envoy and
 * `trustgate health` ask. The same behaviour as grpc-health-check's implementation, on the protobufjs runtime the
 * Check codec already loads (that package loads a second protobuf toolchain, @grpc/proto-loader, at import).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

const require = createRequire(import.meta.url);
/** The health.proto shipped with grpc-health-check (read as a file; the package itself is not loaded). */
export const HEALTH_PROTO = join(
  dirname(require.resolve("grpc-health-check/package.json")),
  "proto/health/v1/health.proto",
);

const GRPC_NOT_FOUND = 5;
const GRPC_RESOURCE_EXHAUSTED = 8;
const MAX_LISTED = 100;

interface StatusMessage {
  status: ServingStatus;
}

function definition(): grpc.ServiceDefinition {
  const root = protobuf.loadSync(HEALTH_PROTO);
  const request = root.lookupType("grpc.health.v1.HealthCheckRequest");
  const response = root.lookupType("grpc.health.v1.HealthCheckResponse");
  const listRequest = root.lookupType("grpc.health.v1.HealthListRequest");
  const listResponse = root.lookupType("grpc.health.v1.HealthListResponse");
  const codec = (type: protobuf.Type) => ({
    serialize: (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes: Buffer) => type.toObject(type.decode(bytes), { enums: String, defaults: true }),
  });
  const method = (name: string, req: protobuf.Type, res: protobuf.Type, responseStream: boolean) => {
    const q = codec(req);
    const r = codec(res);
    return {
      path: `/grpc.health.v1.Health/${name}`,
      requestStream: false,
      responseStream,
      requestSerialize: q.serialize,
      requestDeserialize: q.deserialize,
      responseSerialize: r.serialize,
      responseDeserialize: r.deserialize,
      originalName: name.toLowerCase(),
    };
  };
  return {
    Check: method("Check", request, response, false),
    Watch: method("Watch", request, response, true),
    List: method("List", listRequest, listResponse, false),
  } as unknown as grpc.ServiceDefinition;
}

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();
  /** Open Watch streams: they never end by themselves, so a shutdown ends them (after NOT_SERVING was sent). */
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor(initial: Readonly<Record<string, ServingStatus>>) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  /** Service names with an open Watch (for tests: the table must not keep names nobody watches). */
  get watchedServices(): number {
    return this.watchers.size;
  }

  /** Ends every open Watch stream. */
  endWatches(): void {
    for (const call of this.watches) call.end();
    this.watches.clear();
  }

  addToServer(server: grpc.Server): void {
    server.addService(definition(), {
      Check: (
        call: grpc.ServerUnaryCall<{ service: string }, StatusMessage>,
        callback: grpc.sendUnaryData<StatusMessage>,
      ) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: GRPC_NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
        } else callback(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, StatusMessage>) => {
        const service = call.request.service;
        const watcher = (status: ServingStatus) => call.write({ status });
        let set = this.watchers.get(service);
        if (set === undefined) {
          set = new Set();
          this.watchers.set(service, set);
        }
        set.add(watcher);
        this.watches.add(call);
        // Any client may Watch any name: an entry goes with its last watcher, or names would pile up for ever.
        const stop = () => {
          set.delete(watcher);
          if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
          this.watches.delete(call);
        };
        call.on("cancelled", stop);
        call.on("close", stop);
        call.write({ status: this.statuses.get(service) ?? "SERVICE_UNKNOWN" });
      },
      List: (_call: unknown, callback: grpc.sendUnaryData<{ statuses: Record<string, StatusMessage> }>) => {
        if (this.statuses.size > MAX_LISTED) {
          callback({ code: GRPC_RESOURCE_EXHAUSTED, details: "Too many services to list." });
          return;
        }
        const statuses: Record<string, StatusMessage> = {};
        for (const [service, status] of this.statuses) statuses[service] = { status };
        callback(null, { statuses });
      },
    });
  }
}
