/** A gRPC health Watch stream (grpc.health.v1.Health/Watch) on a running trustgate, recording every status sent. */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

interface WatchClient extends grpc.Client {
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

export interface HealthWatch {
  /** Resolves with the first status. */
  readonly first: Promise<string>;
  /** Resolves with every status once the stream has ended (or failed). */
  readonly statuses: Promise<string[]>;
}

export function watchHealth(address: string, service = ""): HealthWatch {
  const definition = protoLoader.loadSync(protoPath, { enums: String });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (addr: string, creds: grpc.ChannelCredentials) => WatchClient } } };
  };
  const client = new proto.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  const stream = client.watch({ service });
  const seen: string[] = [];
  let firstResolve: (status: string) => void;
  const first = new Promise<string>((resolve) => {
    firstResolve = resolve;
  });
  const statuses = new Promise<string[]>((resolve) => {
    stream.on("data", (message: { status: string }) => {
      seen.push(message.status);
      if (seen.length === 1) firstResolve(message.status);
    });
    const done = () => {
      client.close();
      resolve(seen);
    };
    stream.on("end", done);
    stream.on("error", done);
  });
  return { first, statuses };
}
