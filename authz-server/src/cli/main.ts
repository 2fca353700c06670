/**
 * The trustgate command line. Every command has --help; errors go to stderr with a non-zero exit code.
 */
import { Command, InvalidArgumentError } from "commander";

// Command modules are imported when their command runs, so `--help` and small commands start fast.
const serve = async (flags: Parameters<typeof import("./serve-command.js").serve>[0]) =>
  (await import("./serve-command.js")).serve(flags);
const check = async (flags: Parameters<typeof import("./check-command.js").check>[0]) =>
  (await import("./check-command.js")).check(flags);
const health = async (flags: Parameters<typeof import("./health-command.js").health>[0]) =>
  (await import("./health-command.js")).health(flags);
const policyTest = async (...args: Parameters<typeof import("./policy-commands.js").policyTest>) =>
  (await import("./policy-commands.js")).policyTest(...args);
const policyLint = async (...args: Parameters<typeof import("./policy-commands.js").policyLint>) =>
  (await import("./policy-commands.js")).policyLint(...args);
const explainCommand = async (flags: Parameters<typeof import("./policy-commands.js").explainCommand>[0]) =>
  (await import("./policy-commands.js")).explainCommand(flags);

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

export function program(setExit: (code: number) => void): Command {
  const cli = new Command("trustgate")
    .description(
      "Authorization for Envoy service meshes from SPIFFE workload identity, request attributes and live Falco risk.",
    )
    .version("0.1.0")
    .showHelpAfterError();

  cli
    .command("serve")
    .description("run the ext_authz gRPC service and the admin HTTP server (what `npm start` runs)")
    .option("-c, --config <file>", "YAML configuration file (env TRUSTGATE_CONFIG)")
    .option("--grpc-addr <addr>", "gRPC listen address, host:port or unix:/path (env TRUSTGATE_GRPC_ADDR)")
    .option("--http-addr <addr>", "admin HTTP listen address (env TRUSTGATE_HTTP_ADDR)")
    .option("--policy-dir <dir>", "directory of AuthorizationPolicy YAML files (env TRUSTGATE_POLICY_DIR)")
    .option("--dry-run", "evaluate and log every decision but enforce none (env TRUSTGATE_DRY_RUN)")
    .option("--log-level <level>", "trace|debug|info|warn|error (env TRUSTGATE_LOG_LEVEL)")
    .action(async (flags) => setExit(await serve(flags)));

  cli
    .command("check")
    .description("send one CheckRequest over gRPC and print the decision (exit 0 allow, 1 deny, 2 error)")
    .option("--addr <addr>", "trustgate gRPC address", process.env.TRUSTGATE_GRPC_ADDR ?? "127.0.0.1:9191")
    .option("--principal <spiffe-id>", "caller SPIFFE ID (source.principal); omit for a caller without mTLS")
    .option("--certificate-file <pem>", "caller certificate, sent as source.certificate (include_peer_certificate)")
    .option("--method <method>", "HTTP method", "GET")
    .option("--path <path>", "request path, query string included", "/")
    .option("--host <host>", "HTTP host (:authority)")
    .option("--header <name=value>", "request header (repeatable)", collect, [])
    .option("--source-ip <ip>", "caller address", "127.0.0.1")
    .option("--destination-principal <spiffe-id>", "destination workload SPIFFE ID (destination.principal)")
    .option("--destination-ip <ip>", "destination address", "127.0.0.1")
    .option("--port <port>", "destination port", integer, 8080)
    .option("--label <key=value>", "destination workload label (repeatable)", collect, [])
    .option("--namespace <ns>", "destination namespace hint (context_extensions trustgate.namespace)")
    .option("--tcp", "send a TCP-only CheckRequest (no HTTP request)")
    .option("--sni <name>", "TLS session SNI (sent only when given, as with Envoy's include_tls_session)")
    .option("--jwt-claims <json>", "verified JWT payload as a JSON object, forwarded as jwt_authn metadata")
    .option("--json", "print the whole CheckResponse as JSON")
    .option("--timeout-ms <ms>", "deadline", integer, 5000)
    .action(async (flags) => setExit(await check(flags)));

  cli
    .command("health")
    .description("gRPC health check of a running trustgate (exit 0 when SERVING)")
    .option("--addr <addr>", "trustgate gRPC address", process.env.TRUSTGATE_GRPC_ADDR ?? "127.0.0.1:9191")
    .option("--service <name>", "service name to check ('' = whole server)", "")
    .option("--timeout-ms <ms>", "deadline", integer, 3000)
    .action(async (flags) => setExit(await health(flags)));

  const policy = cli.command("policy").description("test and lint AuthorizationPolicy files");
  const policyOptions = (c: Command) =>
    c
      .option("--root-namespace <ns>", "namespace whose policies apply mesh-wide", "istio-system")
      .option("--workloads <file>", "workload inventory (enables selector and principal checks)")
      .option("--trust-domain <td>", "trust domain of the mesh (repeatable)", collect, [])
      .option("--config <file>", "trustgate configuration: mesh trust domain and aliases, jwt, remoteIp")
      .option("--json", "machine-readable output");

  policyOptions(
    policy
      .command("test")
      .argument("[paths...]", "policy files or directories (default: policies)")
      .description("run the policy unit tests (*.test.yaml) found under the paths; exit 0 only if all pass"),
  ).action(async (paths: string[], flags) => setExit(await policyTest(paths, flags)));

  policyOptions(
    policy
      .command("lint")
      .argument("[paths...]", "policy files or directories (default: policies)")
      .description("report load errors (exit 1) and likely mistakes (warnings) in policies"),
  ).action(async (paths: string[], flags) => setExit(await policyLint(paths, flags)));

  policyOptions(
    cli
      .command("explain")
      .description("show every policy, rule and field that decides a request, and the final decision")
      .option("--request <file>", "request description (YAML/JSON, the policy test format; - for stdin)")
      .option("--server <url>", "ask a running trustgate (POST /v1/explain) instead of reading policy files")
      .option("--policy-dir <dir>", "policy files or directories (repeatable; default: policies)", collect, [])
      .option("--principal <spiffe-id>", "caller SPIFFE ID")
      .option("--fingerprint <sha256:hex>", "caller certificate fingerprint")
      .option("--subject <dn>", "caller certificate subject (RFC 2253)")
      .option("--risk <level>", "caller Falco risk level: low|medium|high|critical")
      .option("--alert <priority>", "an active Falco alert of the caller (repeatable)", collect, [])
      .option("--method <method>", "HTTP method", "GET")
      .option("--path <path>", "request path, query included", "/")
      .option("--host <host>", "HTTP host")
      .option("--header <name=value>", "request header (repeatable)", collect, [])
      .option("--destination-principal <spiffe-id>", "destination workload SPIFFE ID")
      .option("--namespace <ns>", "destination namespace (when no destination principal)")
      .option("--label <key=value>", "destination workload label (repeatable)", collect, [])
      .option("--port <port>", "destination port", integer)
      .option("--tcp", "a TCP connection check (no HTTP request)")
      .option("--sni <name>", "TLS session SNI")
      .option("--jwt-claims <json>", "verified JWT payload as a JSON object"),
  ).action(async (flags) => setExit(await explainCommand(flags)));

  return cli;
}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const cli = program((c) => {
    code = c;
  });
  cli.exitOverride();
  try {
    await cli.parseAsync(argv);
  } catch (err) {
    const e = err as { exitCode?: number; code?: string };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    return e.exitCode ?? 2;
  }
  return code;
}
