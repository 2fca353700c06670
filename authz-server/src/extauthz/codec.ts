/**
 * The Check codec and service definition, on protobufjs directly: requests are decoded into protobufjs message
 * objects (lowerCamelCase fields, defaults on the prototype) with no extra copy, and responses are encoded from plain
 * objects. Loaded once at start-up.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import type { CheckRequestMessage } from "./check-request.js";
import type { CheckResponseMessage } from "./check-response.js";
import { CHECK_PATH, EXTERNAL_AUTH_PROTO, PROTO_DIR } from "./proto-paths.js";
import { writeCheckResponse } from "./response-writer.js";

export interface CheckCodec {
  readonly root: protobuf.Root;
  readonly decodeRequest: (bytes: Buffer) => CheckRequestMessage;
  readonly encodeRequest: (request: CheckRequestMessage) => Buffer;
  readonly encodeResponse: (response: CheckResponseMessage) => Buffer;
  readonly decodeResponse: (bytes: Buffer) => CheckResponseMessage;
}

let cached: CheckCodec | null = null;

export function checkCodec(): CheckCodec {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : `${PROTO_DIR}/${target}`);
  root.loadSync(EXTERNAL_AUTH_PROTO, { keepCase: false });
  root.resolveAll();
  const request = root.lookupType("envoy.service.auth.v3.CheckRequest");
  const response = root.lookupType("envoy.service.auth.v3.CheckResponse");
  cached = {
    root,
    decodeRequest: (bytes) => request.decode(bytes) as unknown as CheckRequestMessage,
    encodeRequest: (message) => Buffer.from(request.encode(request.fromObject(message as object)).finish()),
    encodeResponse: writeCheckResponse,
    decodeResponse: (bytes) =>
      response.toObject(response.decode(bytes), {
        longs: Number,
        enums: Number,
        defaults: false,
      }) as CheckResponseMessage,
  };
  return cached;
}

/** The Authorization service for @grpc/grpc-js, with trustgate's codec. */
export function authorizationServiceDefinition(codec: CheckCodec = checkCodec()): ServiceDefinition {
  return {
    Check: {
      path: CHECK_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: codec.encodeRequest,
      requestDeserialize: codec.decodeRequest,
      responseSerialize: codec.encodeResponse,
      responseDeserialize: codec.decodeResponse,
      originalName: "check",
    },
  } as ServiceDefinition;
}
