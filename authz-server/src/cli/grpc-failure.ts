/**
 * A failed gRPC call from `check` or `health`, in one line that says what went wrong in words and what to try,
 * instead of grpc-js's `14 UNAVAILABLE: No connection established. Last error: … Resolution note: `.
 */

const ADDR_FLAG = "--addr (or TRUSTGATE_GRPC_ADDR)";

const CONNECT_ERRORS: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /ECONNREFUSED/,
    `connection refused — is \`trustgate serve\` running there? If not there, give its address with ${ADDR_FLAG}`,
  ],
  [
    /ENOENT/,
    `no socket at that path — is \`trustgate serve\` running with that unix: address? Otherwise give its address with ${ADDR_FLAG}`,
  ],
  [/EACCES/, "permission denied on the socket — run as a user that may open it"],
  [/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/, `the host cannot be reached — check the address given with ${ADDR_FLAG}`],
  [
    /Name resolution failed|ENOTFOUND|EAI_AGAIN/,
    `the host name does not resolve — check the address given with ${ADDR_FLAG}`,
  ],
  [
    /Protocol error|Received HTTP status code|HTTP\/1/,
    `it does not speak gRPC — is that the admin HTTP port? Give the gRPC address with ${ADDR_FLAG}`,
  ],
];

export function describeGrpcFailure(err: unknown, addr: string, timeoutMs: number): string {
  const e = err as { code?: number; details?: string; message?: string };
  const details = (e.details ?? e.message ?? String(err)).replace(/\s*Resolution note:\s*$/, "").trim();
  switch (e.code) {
    case 4: // DEADLINE_EXCEEDED
      return `no answer from ${addr} within ${timeoutMs} ms — raise --timeout-ms, or check the address given with ${ADDR_FLAG}`;
    case 12: // UNIMPLEMENTED
      return `${addr} does not serve trustgate's gRPC services (${details}) — give trustgate's gRPC address with ${ADDR_FLAG}`;
    case 14: {
      // UNAVAILABLE
      const known = CONNECT_ERRORS.find(([pattern]) => pattern.test(details));
      return `cannot reach trustgate at ${addr}: ${known ? known[1] : `${details} — check the address given with ${ADDR_FLAG}`}`;
    }
    default:
      return `the call to ${addr} failed: ${details}`;
  }
}
