/**
 * The differential fuzz run: real `trustgate serve` processes (the built CLI, as users start it) with the fuzz policy
 * set, one trusting the wasm filter's headers and one not; every generated case is sent over real gRPC as raw bytes
 * to both; the oracle judges every ALLOW. Failures: a crash (a server exits), a hang (no answer by the deadline), a
 * non-OK gRPC status (for any bytes: an error is what Envoy's failure_mode_allow turns into an allow), an undecodable
 * response, and an ALLOW the oracle forbids.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { freePort } from "../support/free-port.js";
import { UpstreamCheckClient, upstreamType } from "../support/upstream-envoy.js";
import { type FuzzCase, makeCase } from "./mutate.js";
import { type Forbidden, mustDeny } from "./oracle.js";
import { POLICIES, TENANT_HEADER } from "./policies.js";
import { repoRoot } from "./repo.js";
import { wellFormed } from "./wire.js";

const REPO = repoRoot();
const BIN = join(REPO, "authz-server", "bin", "trustgate.js");

/**
 * Bug classes known to be open while their fix lands separately, counted apart instead of failing the run. TEMPORARY:
 * each entry names an open defect and goes away with its fix. An empty list is the goal.
 */
export const KNOWN_BUG_CLASSES: readonly string[] = [];

export interface Finding {
  readonly kind: "crash" | "hang" | "status" | "response" | "forbidden-allow" | "oracle";
  readonly server: string;
  readonly caseId: number;
  readonly classes: readonly string[];
  readonly detail: string;
  /** For forbidden ALLOWs: the bug class (see classify). */
  readonly bugClass?: string;
}

export interface FuzzCounts {
  requests: number;
  allows: number;
  denies: number;
  /** Denies of bytes that are not a well-formed CheckRequest (an error status there is a finding). */
  undecodableDenied: number;
  crashes: number;
  hangs: number;
  badStatuses: number;
  forbiddenAllows: number;
  knownBugAllows: number;
}

export interface FuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly counts: FuzzCounts;
  /** Failures (not the known bug classes). */
  readonly findings: Finding[];
  /** Forbidden ALLOWs in a known bug class, by class. */
  readonly known: ReadonlyMap<string, Finding[]>;
}

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly client: UpstreamCheckClient;
  stderr: string;
}

/**
 * Which open defect(s) explain a forbidden ALLOW: every reason the oracle gave must be explained by one, else the
 * finding is "unexpected". Several classes are joined with "+".
 */
export function classify(reasons: readonly Forbidden[]): string {
  const classes = new Set(
    reasons.map((f) =>
      f.viaSemicolon ? "semicolon-path-params" : f.viaTrailingDot ? "trailing-dot-host" : "unexpected",
    ),
  );
  if (classes.has("unexpected")) return "unexpected";
  return [...classes].sort().join("+");
}

function isKnown(bugClass: string): boolean {
  return bugClass.split("+").every((c) => KNOWN_BUG_CLASSES.includes(c));
}

async function startServer(dir: string, name: string, trustFilterHeaders: boolean): Promise<Server> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      TRUSTGATE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
      TRUSTGATE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      TRUSTGATE_POLICY_DIR: join(dir, "policies"),
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_TRUST_DOMAINS: "cluster.local",
      TRUSTGATE_TRUST_FILTER_HEADERS: String(trustFilterHeaders),
      TRUSTGATE_DECISION_LOG: "none",
      TRUSTGATE_LOG_LEVEL: "warn",
    },
  });
  const server: Server = { name, child, client: new UpstreamCheckClient(`127.0.0.1:${grpcPort}`), stderr: "" };
  child.stderr!.on("data", (d) => {
    server.stderr = (server.stderr + d).slice(-20_000);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited at start:\n${server.stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become ready:\n${server.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function decodable(type: protobuf.Type, bytes: Buffer): protobuf.Message | null {
  try {
    return type.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The oracle's view of a decoded CheckRequest, read field by field from the protobufjs message (its `toObject`
 * throws on some malformed but decodable messages, such as a map entry without a value).
 */
function oracleInput(message: protobuf.Message) {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const m = message as unknown as {
    attributes?: {
      source?: {
        principal?: unknown;
        certificate?: unknown;
        address?: { socketAddress?: { address?: unknown } | null } | null;
      } | null;
      destination?: { principal?: unknown; labels?: unknown } | null;
      request?: {
        http?: { path?: unknown; host?: unknown; method?: unknown; headers?: Record<string, unknown> | null } | null;
      } | null;
      contextExtensions?: unknown;
    } | null;
  };
  const a = m.attributes;
  const http = a?.request?.http;
  // As trustgate merges them (extauthz/destination.ts): destination.labels, then trustgate.label.* hints over them.
  let labels: Record<string, string> | null = null;
  const put = (k: string, v: unknown) => {
    labels ??= Object.create(null) as Record<string, string>;
    labels[k] = str(v);
  };
  const peerLabels = a?.destination?.labels;
  if (peerLabels !== null && typeof peerLabels === "object") for (const [k, v] of Object.entries(peerLabels)) put(k, v);
  const extensions = a?.contextExtensions;
  if (extensions !== null && typeof extensions === "object") {
    for (const [k, v] of Object.entries(extensions)) if (k.startsWith("trustgate.label.")) put(k.slice(16), v);
  }
  return {
    destination: str(a?.destination?.principal),
    http: http
      ? {
          path: str(http.path),
          host: str(http.host),
          method: str(http.method),
          tenant:
            http.headers && Object.hasOwn(http.headers, TENANT_HEADER) ? str(http.headers[TENANT_HEADER]) : undefined,
        }
      : null,
    principal: str(a?.source?.principal),
    certificate: str(a?.source?.certificate),
    sourceIp: str(a?.source?.address?.socketAddress?.address),
    destinationLabels: labels,
  };
}

export interface FuzzOptions {
  readonly seed: number;
  /** Stop after this many cases… */
  readonly cases?: number;
  /** …or after this long (whichever comes first). */
  readonly seconds?: number;
  /** Cases in flight at once. */
  readonly concurrency?: number;
  /** Deadline of one Check: no answer by then is a hang. */
  readonly deadlineMs?: number;
  readonly onProgress?: (counts: FuzzCounts, cases: number) => void;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  if (!existsSync(join(REPO, "authz-server", "dist", "cli", "main.js"))) {
    throw new Error("authz-server is not built: run `npm run build:server` first");
  }
  const dir = mkdtempSync(join(tmpdir(), "trustgate-fuzz-"));
  const policies = join(dir, "policies");
  mkdirSync(policies);
  writeFileSync(join(policies, "fuzz.yaml"), POLICIES);
  const requestType = upstreamType("envoy.service.auth.v3.CheckRequest");
  const responseType = upstreamType("envoy.service.auth.v3.CheckResponse");
  const servers = [await startServer(dir, "headers-untrusted", false), await startServer(dir, "headers-trusted", true)];
  const counts: FuzzCounts = {
    requests: 0,
    allows: 0,
    denies: 0,
    undecodableDenied: 0,
    crashes: 0,
    hangs: 0,
    badStatuses: 0,
    forbiddenAllows: 0,
    knownBugAllows: 0,
  };
  const findings: Finding[] = [];
  const known = new Map<string, Finding[]>();
  const deadlineMs = options.deadlineMs ?? 5000;
  const until = options.seconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.seconds * 1000;
  const limit = options.cases ?? Number.POSITIVE_INFINITY;
  let next = 0;
  let crashed = false;

  const runCase = async (c: FuzzCase) => {
    // The oracle judges whatever a (lenient) decoder makes of the bytes; only strictly well-formed bytes must be
    // answered with a CheckResponse rather than a gRPC error.
    const lenient = decodable(requestType, c.bytes);
    const decoded = lenient !== null && wellFormed(requestType, c.bytes) ? lenient : null;
    let reasons: Forbidden[] = [];
    try {
      if (lenient) reasons = mustDeny(oracleInput(lenient));
    } catch (err) {
      // A fuzzer bug, not trustgate's: reported, and the run goes on.
      findings.push({ kind: "oracle", server: "-", caseId: c.id, classes: c.classes, detail: String(err) });
    }
    await Promise.all(
      servers.map(async (server) => {
        counts.requests++;
        let raw: Buffer;
        try {
          raw = await server.client.checkRaw(c.bytes, deadlineMs);
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code === GrpcStatus.DEADLINE_EXCEEDED) {
            counts.hangs++;
            findings.push({
              kind: "hang",
              server: server.name,
              caseId: c.id,
              classes: c.classes,
              detail: "no answer by the deadline",
            });
          } else if (server.child.exitCode !== null) {
            crashed = true;
          } else {
            counts.badStatuses++;
            findings.push({
              kind: "status",
              server: server.name,
              caseId: c.id,
              classes: c.classes,
              detail: `gRPC ${code}: ${(err as Error).message}`,
            });
          }
          return;
        }
        let allowed: boolean;
        try {
          const response = responseType.toObject(responseType.decode(raw), { defaults: true }) as {
            status?: { code?: number };
          };
          allowed = (response.status?.code ?? 0) === 0;
        } catch (err) {
          findings.push({
            kind: "response",
            server: server.name,
            caseId: c.id,
            classes: c.classes,
            detail: String(err),
          });
          return;
        }
        if (!allowed) {
          counts.denies++;
          if (decoded === null) counts.undecodableDenied++;
          return;
        }
        counts.allows++;
        if (reasons.length === 0) return;
        const bugClass = classify(reasons);
        const finding: Finding = {
          kind: "forbidden-allow",
          server: server.name,
          caseId: c.id,
          classes: c.classes,
          detail: reasons.map((f) => `${f.rule}: ${f.detail}`).join("; "),
          bugClass,
        };
        if (isKnown(bugClass)) {
          counts.knownBugAllows++;
          known.set(bugClass, [...(known.get(bugClass) ?? []), finding]);
        } else {
          counts.forbiddenAllows++;
          findings.push(finding);
        }
      }),
    );
  };

  const worker = async () => {
    while (!crashed && next < limit && Date.now() < until) {
      const id = next++;
      await runCase(makeCase(id, options.seed, requestType));
      if (id % 500 === 0) options.onProgress?.(counts, next);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
    // A server that died mid-run (or just after the last case) is a crash.
    await new Promise((r) => setTimeout(r, 100));
    for (const server of servers) {
      if (server.child.exitCode !== null || crashed) {
        counts.crashes++;
        findings.push({
          kind: "crash",
          server: server.name,
          caseId: next - 1,
          classes: [],
          detail: `exit code ${server.child.exitCode}; stderr:\n${server.stderr}`,
        });
      }
    }
  } finally {
    for (const server of servers) {
      server.client.close();
      server.child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return { seed: options.seed, cases: next, counts, findings, known };
}

/** The report as text: counts, then each finding (first 20), then the known bug classes, loudly. */
export function formatReport(report: FuzzReport): string {
  const c = report.counts;
  const lines = [
    `fuzz: seed ${report.seed}, ${report.cases} cases → ${c.requests} requests: ${c.allows} allows, ${c.denies} denies, ${c.undecodableDenied} of them undecodable`,
    `fuzz: crashes ${c.crashes}, hangs ${c.hangs}, bad statuses ${c.badStatuses}, forbidden ALLOWs ${c.forbiddenAllows}`,
  ];
  for (const f of report.findings.slice(0, 20)) {
    lines.push(`  FAIL ${f.kind} on ${f.server}, case ${f.caseId} [${f.classes.join(" ")}]: ${f.detail}`);
  }
  if (report.findings.length > 20) lines.push(`  … and ${report.findings.length - 20} more`);
  if (c.knownBugAllows > 0) {
    lines.push(
      `fuzz: !!! ${c.knownBugAllows} forbidden ALLOWs in KNOWN open bug classes (temporary expected failures, see KNOWN_BUG_CLASSES in test/fuzz/harness.ts) !!!`,
    );
    for (const [bugClass, list] of report.known) {
      lines.push(`  !!! ${bugClass}: ${list.length}, e.g. case ${list[0]!.caseId}: ${list[0]!.detail}`);
    }
  }
  return lines.join("\n");
}
