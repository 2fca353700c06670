/**
 * gRPC server reflection (what grpcurl uses), loaded on the first reflection call. @grpc/reflection and the
 * descriptors it builds take several megabytes of heap in every serving process and are asked for rarely, so the
 * service is registered with stand-in methods that load the real implementation (synchronously, once) when a client
 * first calls it, and hand every call and message to it from then on.
 */
import { createRequire } from "node:module";
import type * as grpc from "@grpc/grpc-js";

const require = createRequire(import.meta.url);

type Method = grpc.MethodDefinition<unknown, unknown>;
interface Loaded {
  readonly method: Method;
  readonly handler: (stream: grpc.ServerDuplexStream<unknown, unknown>) => void;
}

const VERSIONS = ["v1", "v1alpha"];

export function addLazyReflection(server: grpc.Server, protoFiles: readonly string[], includeDirs: string[]): void {
  let loaded: Map<string, Loaded> | null = null;
  const load = (): Map<string, Loaded> => {
    if (loaded !== null) return loaded;
    const protoLoader = require("@grpc/proto-loader") as typeof import("@grpc/proto-loader");
    const { ReflectionService } = require("@grpc/reflection") as typeof import("@grpc/reflection");
    const pkg = protoLoader.loadSync([...protoFiles], { includeDirs, keepCase: true });
    const methods = new Map<string, Loaded>();
    // Collect what the real service would add to a server.
    const collector = {
      addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) {
        for (const [name, method] of Object.entries(service)) {
          const handler = (implementation[name] ?? implementation[method.originalName ?? ""]) as Loaded["handler"];
          methods.set(method.path, { method: method as Method, handler });
        }
      },
    };
    new ReflectionService(pkg).addToServer(collector as unknown as Pick<grpc.Server, "addService">);
    loaded = methods;
    return methods;
  };
  for (const version of VERSIONS) {
    const path = `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`;
    const real = (): Loaded => {
      const found = load().get(path);
      if (found === undefined) throw new Error(`server reflection does not provide ${path}`);
      return found;
    };
    const definition = {
      ServerReflectionInfo: {
        path,
        requestStream: true,
        responseStream: true,
        originalName: "serverReflectionInfo",
        requestSerialize: (value: unknown) => real().method.requestSerialize(value),
        requestDeserialize: (bytes: Buffer) => real().method.requestDeserialize(bytes),
        responseSerialize: (value: unknown) => real().method.responseSerialize(value),
        responseDeserialize: (bytes: Buffer) => real().method.responseDeserialize(bytes),
      },
    } as unknown as grpc.ServiceDefinition;
    server.addService(definition, {
      ServerReflectionInfo: (stream: grpc.ServerDuplexStream<unknown, unknown>) => real().handler(stream),
    });
  }
}
