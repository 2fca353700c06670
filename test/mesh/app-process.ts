/**
 * The demo app (envoy-configs/compose/demo-app/server.mjs, unchanged) as the real application behind each sidecar:
 * a child process on 127.0.0.1 whose OUTBOUND_<SERVICE> variables point at its sidecar's outbound listener.
 */
import { cleanEnv, type ManagedProcess, startProcess, waitUntil } from "./child-processes.js";
import { DEMO_APP, REPO } from "./repo.js";

export interface AppProcess {
  readonly name: string;
  readonly port: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startApp(
  name: string,
  port: number,
  outboundPort: number,
  destinations: readonly string[],
): Promise<AppProcess> {
  const env: Record<string, string> = { SERVICE_NAME: name, PORT: String(port), HOST: "127.0.0.1" };
  for (const to of destinations) {
    env[`OUTBOUND_${to.toUpperCase().replaceAll("-", "_")}`] = `http://127.0.0.1:${outboundPort}`;
  }
  const proc = startProcess([DEMO_APP], cleanEnv(env), REPO);
  // Ready once this process says it bound the port: a /health answer alone could come from another process that
  // took the port first (this one then exits with EADDRINUSE, and the caller starts it on another port).
  const bound = `listening on 127.0.0.1:${port}`;
  await waitUntil(
    async () => proc.output.stdout.includes(bound) && (await fetch(`http://127.0.0.1:${port}/health`)).ok,
    15_000,
    `demo app ${name} on port ${port}`,
    proc,
  );
  return {
    name,
    port,
    process: proc,
    async stop() {
      await proc.stop();
    },
  };
}
