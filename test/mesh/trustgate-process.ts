/**
 * trustgate as a real separate process, started the way a user starts it (`trustgate serve --config <file>`), with
 * a configuration written to a temporary directory: the repository's example policies, the cluster.local trust
 * domain, filter headers trusted (every sidecar runs the filter), the workload inventory for the Falco static
 * mapping, a Falco ingest token, an admin token, and a short risk half-life so decay is observable.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/free-port.js";
import { cleanEnv, type ManagedProcess, startProcess, waitUntil } from "./child-processes.js";
import { POLICIES_DIR, REPO, TRUSTGATE_BIN } from "./repo.js";
import { TRUST_DOMAIN, workloadInventoryJson } from "./workloads.js";

export interface TrustgateOptions {
  readonly halfLifeSeconds: number;
  readonly falcoToken: string;
  readonly adminToken: string;
}

export interface DecisionLine {
  readonly decision_id: string;
  readonly decision: "allow" | "deny";
  readonly policy: string;
  readonly reason: string;
  readonly caller: string;
  readonly certificate_fingerprint?: string;
  readonly destination?: string;
  readonly method?: string;
  readonly path?: string;
  readonly time: string;
}

export class TrustgateProcess {
  private constructor(
    readonly process: ManagedProcess,
    readonly grpcAddress: string,
    readonly adminHost: string,
    readonly adminPort: number,
    readonly options: TrustgateOptions,
    private readonly dir: string,
  ) {}

  get adminUrl(): string {
    return `http://${this.adminHost}:${this.adminPort}`;
  }

  static async start(options: TrustgateOptions): Promise<TrustgateProcess> {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-mesh-"));
    const [grpcPort, adminPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, "workloads.yaml"), workloadInventoryJson());
    const config = {
      grpc: { addr: `127.0.0.1:${grpcPort}` },
      http: { addr: `127.0.0.1:${adminPort}`, adminToken: options.adminToken },
      policies: { dir: POLICIES_DIR, rootNamespace: "istio-system", watch: false },
      identity: { trustDomains: [TRUST_DOMAIN], trustFilterHeaders: true },
      workloads: { file: join(dir, "workloads.yaml") },
      log: { level: "info", decisions: "all", sampleRate: 1 },
      falco: { token: options.falcoToken, mapping: { strategy: "static", trustDomain: TRUST_DOMAIN } },
      risk: { halfLifeSeconds: options.halfLifeSeconds },
    };
    const configFile = join(dir, "trustgate.yaml");
    writeFileSync(configFile, JSON.stringify(config, null, 2)); // YAML is a superset of JSON
    const proc = startProcess([TRUSTGATE_BIN, "serve", "--config", configFile], cleanEnv({}), REPO);
    const tg = new TrustgateProcess(proc, `127.0.0.1:${grpcPort}`, "127.0.0.1", adminPort, options, dir);
    try {
      await waitUntil(async () => (await fetch(`${tg.adminUrl}/readyz`)).ok, 20_000, "trustgate serve", proc);
    } catch (err) {
      await tg.stop();
      throw err;
    }
    return tg;
  }

  /** The decision log lines written so far (stdout, one JSON object per line). */
  decisions(): DecisionLine[] {
    const out: DecisionLine[] = [];
    for (const line of this.process.output.stdout.split("\n")) {
      if (!line.includes('"event":"decision"')) continue;
      try {
        out.push(JSON.parse(line) as DecisionLine);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** Waits (bounded) for the decision log line of `decisionId`: logs are written asynchronously. */
  async decision(decisionId: string, timeoutMs = 2000): Promise<DecisionLine | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.decisions().find((d) => d.decision_id === decisionId);
      if (found || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get running(): boolean {
    return this.process.child.exitCode === null && this.process.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | string | null> {
    const code = await this.process.stop(signal);
    rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}
