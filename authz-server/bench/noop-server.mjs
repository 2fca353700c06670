// The baseline: a Check server in the same runtime (Node, @grpc/grpc-js, trustgate's own codec) that decides
// nothing and answers a constant OK. Usage: node noop-server.mjs <port>
import * as grpc from "@grpc/grpc-js";
import { authorizationServiceDefinition } from "../dist/extauthz/codec.js";

const OK = { status: { code: 0 }, okResponse: { headers: [] } };
const server = new grpc.Server({ "grpc.max_receive_message_length": 1024 * 1024 });
server.addService(authorizationServiceDefinition(), { Check: (_call, callback) => callback(null, OK) });
server.bindAsync(`127.0.0.1:${process.argv[2] ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`noop listening ${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
