import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** trustgate's own wire definitions (see authz-server/proto/README.md); the same path from src/ and dist/. */
export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
export const EXTERNAL_AUTH_PROTO = "envoy/service/auth/v3/external_auth.proto";
export const AUTHORIZATION_SERVICE = "envoy.service.auth.v3.Authorization";
export const CHECK_PATH = `/${AUTHORIZATION_SERVICE}/Check`;
