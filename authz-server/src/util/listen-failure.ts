/**
 * Why a listener could not bind, in one actionable line: which listener, which address, what the system said in
 * words, and what to do about it (`setting` names the flag, variable and key that choose the address).
 */

const ADVICE: Readonly<Record<string, (setting: string) => string>> = {
  EADDRINUSE: (s) =>
    `address already in use — is another trustgate (or another program) listening there? Stop it, or choose another address with ${s}`,
  EACCES: (s) => `permission denied — ports below 1024 need privileges; choose a port of 1024 or more with ${s}`,
  EADDRNOTAVAIL: (s) =>
    `this host has no such address — use 127.0.0.1, 0.0.0.0 or one of this host's addresses with ${s}`,
  ENOTFOUND: (s) => `the host name does not resolve — use an IP address or a resolvable name with ${s}`,
  EAI_AGAIN: (s) => `the host name could not be resolved right now — use an IP address with ${s}`,
  ENOENT: (s) => `the socket's directory does not exist — create it, or choose another path with ${s}`,
  EINVAL: (s) => `the address is not valid here — check ${s}`,
};

/** The same for a unix socket (`unix:/path`), where there is no port and the file system decides. */
const UNIX_ADVICE: Readonly<Record<string, (setting: string) => string>> = {
  EADDRINUSE: (s) =>
    `the socket file exists — is another trustgate listening there? If not, it was left by a process that died: remove it, or choose another path with ${s}`,
  // grpc-js reports a missing directory as EACCES too.
  EACCES: (s) =>
    `permission denied — the socket's directory does not exist or this process may not write there; create it, or choose another path with ${s}`,
  EPERM: (s) => `permission denied — this process may not create a socket there; choose another path with ${s}`,
  ENOENT: ADVICE.ENOENT!,
  ENOTDIR: (s) => `a part of the socket's path is not a directory — choose another path with ${s}`,
  EINVAL: (s) => `the path is not valid for a socket (too long? at most 107 bytes) — choose a shorter path with ${s}`,
};

/** The system error code (EADDRINUSE…) in an error or in its message (gRPC puts it in the text). */
export function systemErrorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  const text = err instanceof Error ? err.message : String(err);
  return [...Object.keys(ADVICE), "EPERM", "ENOTDIR"].find((known) => new RegExp(`\\b${known}\\b`).test(text)) ?? null;
}

/** `cannot listen for <what> on <address>: <why> — <what to do>`. */
export function listenFailureMessage(what: string, address: string, err: unknown, setting: string): string {
  const code = systemErrorCode(err);
  const advice = code === null ? undefined : (address.startsWith("unix:") ? UNIX_ADVICE : ADVICE)[code];
  const why = advice ? advice(setting) : `${err instanceof Error ? err.message : String(err)} — check ${setting}`;
  return `cannot listen for ${what} on ${address}: ${why}`;
}
