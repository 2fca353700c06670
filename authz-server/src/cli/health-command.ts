/** `trustgate health`: a gRPC health check (for container HEALTHCHECKs); exit 0 when SERVING. */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: { status: string }) => void,
  ): void;
}

export async function health(flags: { addr: string; service: string; timeoutMs: number }): Promise<number> {
  const definition = protoLoader.loadSync(protoPath, { enums: String });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (addr: string, creds: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new proto.grpc.health.v1.Health(flags.addr, grpc.credentials.createInsecure());
  try {
    const status = await new Promise<string>((resolve, reject) => {
      client.check({ service: flags.service }, { deadline: Date.now() + flags.timeoutMs }, (err, response) =>
        err ? reject(err) : resolve(response?.status ?? "UNKNOWN"),
      );
    });
    console.log(status);
    return status === "SERVING" ? 0 : 1;
  } catch (err) {
    console.error(`trustgate health: ${flags.addr}: ${(err as Error).message}`);
    return 2;
  } finally {
    client.close();
  }
}
