/**
 * The trustgate command line. Every command has --help. Every failure is one line on stderr naming the flag, file or
 * address and what to do; a usage error (unknown flag, bad or missing value) exits 2 in every command.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { LOG_LEVELS } from "../config/schema.js";

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
const policyConvert = async (...args: Parameters<typeof import("./policy-commands.js").policyConvert>) =>
  (await import("./policy-commands.js")).policyConvert(...args);
const explainCommand = async (flags: Parameters<typeof import("./policy-commands.js").explainCommand>[0]) =>
  (await import("./policy-commands.js")).explainCommand(flags);

/** Exit code of a usage error, in every command. */
export const USAGE_ERROR = 2;

/** The gRPC address `check` and `health` call: --addr, else TRUSTGATE_GRPC_ADDR, else the serve default. */
const DEFAULT_GRPC_ADDR = "127.0.0.1:9191";
const ADDR_HELP = `trustgate gRPC address (default: $TRUSTGATE_GRPC_ADDR, else ${DEFAULT_GRPC_ADDR})`;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

function positiveNumber(value: string): number {
  const n = wholeNumber(value);
  if (n === 0) throw new InvalidArgumentError("expected a number above 0");
  return n;
}

function port(value: string): number {
  const n = wholeNumber(value);
  if (n > 65535) throw new InvalidArgumentError("expected a port from 0 to 65535");
  return n;
}

/** Usage errors as one line: `trustgate check: unknown option '--source' (did you mean --source-ip?) — see …`. */
function oneLineErrors(command: Command, path: string): void {
  command.configureOutput({
    outputError: (text, write) => {
      const message = text
        .trim()
        .replace(/^error: /, "")
        .replace(/\n\(Did you mean (.*)\)$/s, " (did you mean $1)")
        .replace(/\s*\n\s*/g, " ")
        .replace(/\.$/, "");
      write(`${path}: ${message} — see \`${path} --help\`\n`);
    },
  });
  for (const sub of command.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}

export function program(setExit: (code: number) => void): Command {
  const cli = new Command("trustgate")
    .description(
      "Authorization for Envoy service meshes from SPIFFE workload identity, request attributes and live Falco risk.",
    )
    .version("0.1.0")
    .exitOverride();

  cli
    .command("serve")
    .description(
      "run the ext_authz gRPC service and the admin HTTP server (what `npm start` runs). Exit: 0 after a clean " +
        "shutdown (SIGTERM/SIGINT), 1 start-up failed, 2 usage or configuration error",
    )
    .option("-c, --config <file>", "YAML configuration file (default: $TRUSTGATE_CONFIG, else none)")
    .option(
      "--grpc-addr <addr>",
      "gRPC listen address, host:port or unix:/path (default: $TRUSTGATE_GRPC_ADDR, else grpc.addr, else 127.0.0.1:9191)",
    )
    .option(
      "--http-addr <addr>",
      "admin HTTP listen address (default: $TRUSTGATE_HTTP_ADDR, else http.addr, else 127.0.0.1:9192)",
    )
    .option(
      "--policy-dir <path>",
      "AuthorizationPolicy file or directory, repeatable: the first sets policies.dir, more replace " +
        "policies.extraDirs (default: $TRUSTGATE_POLICY_DIR, else policies.dir, else policies)",
      collect,
    )
    .option(
      "--policy-source <source>",
      "files, kubernetes (TrustgatePolicy objects) or both (default: $TRUSTGATE_POLICY_SOURCE, else policies.source, else files)",
    )
    .option(
      "--workloads <file>",
      "workload inventory: destination labels, lint, Falco static mapping (default: $TRUSTGATE_WORKLOADS_FILE, else workloads.file)",
    )
    .option("--dry-run", "evaluate and log every decision but enforce none (default: $TRUSTGATE_DRY_RUN, else off)")
    .addOption(
      new Option("--log-level <level>", "log level (default: $TRUSTGATE_LOG_LEVEL, else log.level, else info)").choices(
        LOG_LEVELS,
      ),
    )
    .option(
      "--workers <n>",
      "processes answering Checks: a number, or auto = the CPUs this process may use, cgroup quota included " +
        "(default: $TRUSTGATE_WORKERS, else workers, else auto)",
    )
    .action(async (flags) => setExit(await serve(flags)));

  cli
    .command("check")
    .description(
      "send one CheckRequest over gRPC and print the decision. Exit: 0 allow, 1 deny, 2 usage error or no answer",
    )
    .option("--addr <addr>", ADDR_HELP)
    .option("--principal <spiffe-id>", "caller SPIFFE ID (source.principal); omit for a caller without mTLS")
    .option("--certificate-file <pem>", "caller certificate, sent as source.certificate (include_peer_certificate)")
    .option("--method <method>", "HTTP method", "GET")
    .option("--path <path>", "request path, query string included", "/")
    .option("--host <host>", "HTTP host (:authority) (default: the :authority header, else localhost)")
    .option("--header <name=value>", "request header (repeatable)", collect)
    .option("--source-ip <ip>", "caller address", "127.0.0.1")
    .option("--destination-principal <spiffe-id>", "destination workload SPIFFE ID (destination.principal)")
    .option("--destination-ip <ip>", "destination address", "127.0.0.1")
    .option("--port <port>", "destination port", port, 8080)
    .option("--label <key=value>", "destination workload label (repeatable)", collect)
    .option("--namespace <ns>", "destination namespace hint (context_extensions trustgate.namespace)")
    .option("--tcp", "send a TCP-only CheckRequest (no HTTP request)")
    .option("--sni <name>", "TLS session SNI (sent only when given, as with Envoy's include_tls_session)")
    .option("--jwt-claims <json>", "verified JWT payload as a JSON object, forwarded as jwt_authn metadata")
    .option("--json", "print the whole CheckResponse as JSON")
    .option("--timeout-ms <ms>", "deadline", positiveNumber, 5000)
    .action(async (flags) => setExit(await check(flags)));

  cli
    .command("health")
    .description(
      "gRPC health check of a running trustgate. Exit: 0 SERVING, 1 any other status, 2 usage error or no answer",
    )
    .option("--addr <addr>", ADDR_HELP)
    .option("--service <name>", "service name to check ('' = whole server)", "")
    .option("--timeout-ms <ms>", "deadline", positiveNumber, 3000)
    .action(async (flags) => setExit(await health(flags)));

  const policy = cli
    .command("policy")
    .description("test, lint and convert policy files (AuthorizationPolicy or TrustgatePolicy)");
  // Policy locations are named the same way in every command: --policy-dir, repeatable.
  const policyOptions = (c: Command) =>
    c
      .option(
        "--policy-dir <path>",
        "AuthorizationPolicy file or directory, repeatable (default: $TRUSTGATE_POLICY_DIR, else policies.dir and policies.extraDirs, else policies)",
        collect,
      )
      .option(
        "--root-namespace <ns>",
        "namespace whose policies apply mesh-wide (default: $TRUSTGATE_ROOT_NAMESPACE, else policies.rootNamespace, else istio-system)",
      )
      .option("--workloads <file>", "workload inventory (enables selector and principal checks)")
      .option("--trust-domain <td>", "trust domain of the mesh (repeatable)", collect)
      .option(
        "--config <file>",
        "trustgate configuration, as serve reads it (default: $TRUSTGATE_CONFIG): policy directories, root namespace, mesh trust domain and aliases, jwt, remoteIp",
      )
      .option("--json", "machine-readable output");

  policyOptions(
    policy
      .command("test")
      .argument(
        "[tests...]",
        "policy test files (*.test.yaml) or directories holding them (default: the policy directories)",
      )
      .description(
        "run policy unit tests against the policy set they belong to: --policy-dir, else the default policy " +
          "directory when the tests are inside it, else the tests' own directory. Exit: 0 all pass, 1 a case " +
          "failed, no test ran or the policies or a test file did not load, 2 usage error or unreadable path",
      ),
  ).action(async (paths: string[], flags) => setExit(await policyTest(paths, flags)));

  policyOptions(
    policy
      .command("lint")
      .argument("[paths...]", "policy files or directories, the same as --policy-dir")
      .description(
        "report load errors and likely mistakes (warnings) in policies. Exit: 0 no errors (warnings allowed), " +
          "1 load errors, 2 usage error or unreadable path",
      ),
  ).action(async (paths: string[], flags) => setExit(await policyLint(paths, flags)));

  policy
    .command("convert")
    .argument("[paths...]", "policy files or directories, or - for stdin (default: stdin)")
    .description(
      "convert Istio AuthorizationPolicy YAML to TrustgatePolicy YAML (or back with --to istio), printed on stdout. " +
        "Exit: 0 converted, 1 a policy would not load (nothing printed), 2 usage error or unreadable path",
    )
    .option("--to <kind>", "trustgate (TrustgatePolicy) or istio (AuthorizationPolicy)", "trustgate")
    .action(async (paths: string[], flags) => setExit(await policyConvert(paths, flags)));

  policyOptions(
    cli
      .command("explain")
      .description(
        "show every policy, rule and field that decides a request, and the final decision. Exit: 0 explained " +
          "(whatever the decision), 2 usage error, unreadable request, policies that do not load, or a server " +
          "that cannot be reached or refuses",
      )
      .option("--request <file>", "request description (YAML/JSON, the policy test format; - for stdin)")
      .option("--server <url>", "ask a running trustgate (POST /v1/explain) instead of reading policy files")
      .option(
        "--token <token>",
        "admin token for --server (default: $TRUSTGATE_ADMIN_TOKEN; prefer --token-file or the variable, a flag " +
          "shows in the process list)",
      )
      .option("--token-file <file>", "file holding the admin token for --server")
      .option("--principal <spiffe-id>", "caller SPIFFE ID")
      .option("--fingerprint <sha256:hex>", "caller certificate fingerprint")
      .option("--subject <dn>", "caller certificate subject (RFC 2253)")
      .option("--risk <level>", "caller Falco risk level: low|medium|high|critical")
      .option("--alert <priority>", "an active Falco alert of the caller (repeatable)", collect)
      .option("--method <method>", "HTTP method", "GET")
      .option("--path <path>", "request path, query included", "/")
      .option("--host <host>", "HTTP host")
      .option("--header <name=value>", "request header (repeatable)", collect)
      .option("--destination-principal <spiffe-id>", "destination workload SPIFFE ID")
      .option("--namespace <ns>", "destination namespace (when no destination principal)")
      .option("--label <key=value>", "destination workload label (repeatable)", collect)
      .option("--port <port>", "destination port", port)
      .option("--tcp", "a TCP connection check (no HTTP request)")
      .option("--sni <name>", "TLS session SNI")
      .option("--jwt-claims <json>", "verified JWT payload as a JSON object"),
  ).action(async (flags, command: Command) => {
    // With --server the server's own policies, inventory and settings decide; naming local ones is a mistake.
    if (flags.server !== undefined) {
      const local = {
        policyDir: "--policy-dir",
        workloads: "--workloads",
        trustDomain: "--trust-domain",
        config: "--config",
      };
      for (const [key, name] of Object.entries(local)) {
        if (flags[key] !== undefined) {
          command.error(
            `${name} cannot be used with --server: the server explains with its own policies and settings`,
            {
              exitCode: USAGE_ERROR,
            },
          );
        }
      }
    } else if (flags.token !== undefined || flags.tokenFile !== undefined) {
      command.error(`${flags.token !== undefined ? "--token" : "--token-file"} only applies with --server`, {
        exitCode: USAGE_ERROR,
      });
    }
    if (flags.token !== undefined && flags.tokenFile !== undefined) {
      command.error("give either --token or --token-file, not both", { exitCode: USAGE_ERROR });
    }
    setExit(await explainCommand(flags));
  });

  oneLineErrors(cli, "trustgate");
  return cli;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  let current = "trustgate";
  const cli = program((c) => {
    code = c;
  });
  cli.hook("preAction", (_root, action) => {
    current = commandPath(action);
  });
  try {
    await cli.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a usage error (already printed in one line) exits 2.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
      if (err.code === "commander.help") return err.exitCode === 0 ? 0 : USAGE_ERROR;
      return USAGE_ERROR;
    }
    // A command that failed in a way it did not report itself: still one line, never silence.
    console.error(`${current}: ${err instanceof Error ? err.message : String(err)}`);
    return USAGE_ERROR;
  }
  return code;
}
