/**
 * Worker thread options for servers started from the TypeScript sources in tests: the policy worker then runs its
 * `.ts` source through ts-worker-hooks.mjs.
 */
export const TS_WORKER_EXEC_ARGV: readonly string[] = [
  "--import",
  new URL("./ts-worker-register.mjs", import.meta.url).href,
];
