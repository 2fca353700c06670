/**
 * The gRPC listener's companions: server reflection (what grpcurl uses) and the health service, including
 * NOT_SERVING as soon as a shutdown starts.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterEach, describe, expect, it } from "vitest";
import { UpstreamCheckClient } from "../../test/support/upstream-envoy.js";
import type { Authorizer } from "../src/engine/authorizer.js";
import { GrpcServer } from "../src/grpc/grpc-server.js";
import { HealthService } from "../src/grpc/health-service.js";
import { createLogger } from "../src/observability/logger.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = join(
  dirname(require.resolve("@grpc/reflection/package.json")),
  "build/proto/grpc/reflection/v1/reflection.proto",
);

type Client = grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientDuplexStream<unknown, unknown>>;

function load(path: string, name: string[]): new (address: string, credentials: grpc.ChannelCredentials) => Client {
  const definition = protoLoader.loadSync(path, { keepCase: true, enums: String });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of name) node = (node as Record<string, unknown>)[part];
  return node as new (
    address: string,
    credentials: grpc.ChannelCredentials,
  ) => Client;
}

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

describe("gRPC server", () => {
  it("answers server reflection with the Authorization and Health services", async () => {
    server = await startTestServer({});
    const Reflection = load(REFLECTION_PROTO, ["grpc", "reflection", "v1", "ServerReflection"]);
    const client = new Reflection(server.grpcAddress, grpc.credentials.createInsecure());
    try {
      const call = client.ServerReflectionInfo!() as grpc.ClientDuplexStream<
        unknown,
        { list_services_response?: { service: Array<{ name: string }> } }
      >;
      const response = await new Promise<{ list_services_response?: { service: Array<{ name: string }> } }>(
        (resolve, reject) => {
          call.on("data", resolve);
          call.on("error", reject);
          call.write({ list_services: "" });
        },
      );
      call.end();
      const names = response.list_services_response!.service.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining(["envoy.service.auth.v3.Authorization", "grpc.health.v1.Health"]));
    } finally {
      client.close();
    }
  });

  it("answers a deny, not a gRPC error, when answering a Check throws", async () => {
    // A gRPC error is what Envoy's failure_mode_allow turns into an allow.
    const throwing = {
      authorize() {
        throw new Error("boom");
      },
    } as unknown as Authorizer;
    const grpcServer = new GrpcServer({
      address: "127.0.0.1:0",
      maxMessageBytes: 1024 * 1024,
      authorizer: throwing,
      logger: createLogger("silent"),
    });
    const port = await grpcServer.listen();
    const client = new UpstreamCheckClient(`127.0.0.1:${port}`);
    try {
      const { message } = await client.check({ attributes: {} });
      expect((message.status as { code: number }).code).toBe(7);
      expect(JSON.parse((message.deniedResponse as { body: string }).body).policy).toBe("trustgate/internal-error");
    } finally {
      client.close();
      grpcServer.server.forceShutdown();
    }
  });

  it("forgets a watched service name once its last Watch ends (any client may Watch any name)", async () => {
    const health = new HealthService({ "": "SERVING" });
    const grpcServer = new grpc.Server();
    health.addToServer(grpcServer);
    const port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const Health = load(healthProtoPath, ["grpc", "health", "v1", "Health"]);
    const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const watches = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const watch = (client.Watch as unknown as (r: unknown) => grpc.ClientReadableStream<{ status: string }>)({
            service: `no-such-service-${i}`,
          });
          watch.on("error", () => undefined);
          return new Promise<grpc.ClientReadableStream<unknown>>((resolve) => watch.once("data", () => resolve(watch)));
        }),
      );
      expect(health.watchedServices).toBe(50);
      for (const watch of watches) watch.cancel();
      for (let i = 0; i < 100 && health.watchedServices > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(health.watchedServices).toBe(0);
    } finally {
      client.close();
      grpcServer.forceShutdown();
    }
  });

  it("reports SERVING, then NOT_SERVING the moment a shutdown begins", async () => {
    server = await startTestServer({}, { shutdownGraceSeconds: 1 });
    const s = server;
    const Health = load(healthProtoPath, ["grpc", "health", "v1", "Health"]);
    const client = new Health(s.grpcAddress, grpc.credentials.createInsecure());
    const statuses: string[] = [];
    try {
      const watch = (client.Watch as unknown as (r: unknown) => grpc.ClientReadableStream<{ status: string }>)({
        service: "envoy.service.auth.v3.Authorization",
      });
      watch.on("error", () => undefined);
      const notServing = new Promise<void>((resolve) => {
        watch.on("data", (m: { status: string }) => {
          statuses.push(m.status);
          if (m.status === "SERVING") void s.server.stop("test");
          if (m.status === "NOT_SERVING") resolve();
        });
      });
      await notServing;
      expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
      expect(s.logs.some((l) => l.event === "shutting down")).toBe(true);
    } finally {
      client.close();
    }
  });
});
