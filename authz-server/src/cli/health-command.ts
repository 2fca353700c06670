/** `trustgate health`: a gRPC health check (for container HEALTHCHECKs); exit 0 when SERVING. */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { describeGrpcFailure } from "./grpc-failure.js";

interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: { status: string }) => void,
  ): void;
}

export async function health(flags: { addr?: string; service: string; timeoutMs: number }): Promise<number> {
  const addr = flags.addr ?? process.env.TRUSTGATE_GRPC_ADDR ?? "127.0.0.1:9191";
  const definition = protoLoader.loadSync(protoPath, { enums: String });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (addr: string, creds: grpc.ChannelCredentials) => HealthClient } } };
  };
  let client: HealthClient;
  try {
    client = new proto.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());
  } catch (err) {
    console.error(`trustgate health: --addr ${addr}: ${(err as Error).message}`);
    return 2;
  }
  try {
    const status = await new Promise<string>((resolve, reject) => {
      client.check({ service: flags.service }, { deadline: Date.now() + flags.timeoutMs }, (err, response) => {
        // NOT_FOUND: the server answered, it just has no such service (the health protocol's SERVICE_UNKNOWN).
        if (err?.code === grpc.status.NOT_FOUND) resolve("SERVICE_UNKNOWN");
        else if (err) reject(err);
        else resolve(response?.status ?? "UNKNOWN");
      });
    });
    console.log(status);
    return status === "SERVING" ? 0 : 1;
  } catch (err) {
    console.error(`trustgate health: ${describeGrpcFailure(err, addr, flags.timeoutMs)}`);
    return 2;
  } finally {
    client.close();
  }
}
