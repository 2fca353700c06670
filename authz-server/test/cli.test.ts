/**
 * The trustgate command line, run as a real process the way a user runs it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServeProcess, startServe } from "./support/process.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const PAYMENT = "spiffe://cluster.local/ns/services/sa/payment";
const ORDER_FINGERPRINT = "sha256:dde60084579f8d883daa3e2c286b746c9b71e224ffe9dfbf5a6d609962187df5";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustgate-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("--help", () => {
  it.each([
    [[]],
    [["serve"]],
    [["check"]],
    [["health"]],
    [["policy", "test"]],
    [["policy", "lint"]],
    [["policy", "convert"]],
    [["explain"]],
  ])("trustgate %j --help", async (args) => {
    const r = await runCli([...args, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trustgate/);
  });

  it("rejects an unknown command with a non-zero exit and help", async () => {
    const r = await runCli(["serv"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown command 'serv'");
  });
});

describe("trustgate serve: start-up errors", () => {
  it("exits 2 on an invalid configuration and names the key", async () => {
    const config = join(dir, "bad.yaml");
    await writeFile(config, "grpc:\n  adress: 127.0.0.1:1\n");
    const r = await runCli(["serve", "--config", config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("invalid configuration");
    expect(r.stderr).toContain("adress");
  });

  it("exits 1 when the policies do not load, naming file, line, policy and field", async () => {
    const policies = join(dir, "broken");
    await import("node:fs/promises").then((fs) => fs.mkdir(policies));
    await writeFile(
      join(policies, "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  rules:\n  - when:\n    - key: custom.falco_alert\n      notValues: [high]\n",
    );
    const r = await runCli([
      "serve",
      "--policy-dir",
      policies,
      "--grpc-addr",
      "127.0.0.1:0",
      "--http-addr",
      "127.0.0.1:0",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /p\.yaml:8: policy x\/p, rule 0, field spec\.rules\[0\]\.when\[0\]\.notValues\[0\]: "high" is not one of/,
    );
  });
});

describe("trustgate serve + check + health + explain (real process)", () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServe(["--policy-dir", "policies"], { TRUSTGATE_POLICY_WATCH: "false" });
  });
  afterAll(async () => {
    await serve.stop();
  });

  const paymentCall = (extra: string[]) => [
    "check",
    "--addr",
    serve.grpcAddress,
    "--destination-principal",
    PAYMENT,
    "--label",
    "app=payment",
    ...extra,
  ];

  it("check exits 0 and prints ALLOW for an allowed health probe", async () => {
    const r = await runCli(paymentCall(["--path", "/healthz"]));
    expect(r.stdout).toMatch(/^ALLOW {2}policy=istio-system\/allow-health-probes rule=0/);
    expect(r.code).toBe(0);
  });

  it("check exits 1 and prints the reason, policy and rule for a deny", async () => {
    const r = await runCli(paymentCall(["--principal", ORDER, "--method", "DELETE", "--path", "/api/v1/payment/1"]));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("DENY   HTTP 403 (gRPC 7)  policy=trustgate/default-deny rule=-1");
    expect(r.stdout).toContain("closest: services/payment-allow rule 0");
  });

  it("check answers 401 for a caller without identity", async () => {
    const r = await runCli(paymentCall(["--path", "/api/v1/payment/1"]));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("HTTP 401 (gRPC 16)  policy=istio-system/require-mtls-identity");
  });

  it("check exits 2 when the server cannot be reached", async () => {
    const r = await runCli(["check", "--addr", "127.0.0.1:1", "--timeout-ms", "1000"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^trustgate check: cannot reach trustgate at 127\.0\.0\.1:1: connection refused/);
    expect(r.stderr).not.toContain("Resolution note");
  });

  it("health reports SERVING", async () => {
    const r = await runCli(["health", "--addr", serve.grpcAddress]);
    expect(r.stdout.trim()).toBe("SERVING");
    expect(r.code).toBe(0);
  });

  it("explain --server shows the whole path through the live policies", async () => {
    const r = await runCli([
      "explain",
      "--server",
      serve.httpUrl,
      "--principal",
      ORDER,
      "--fingerprint",
      ORDER_FINGERPRINT,
      "--subject",
      "CN=order.services.svc.cluster.local,O=trustgate demo,C=US",
      "--method",
      "POST",
      "--path",
      "/api/v1/payment/9",
      "--header",
      "x-request-id=1",
      "--destination-principal",
      PAYMENT,
      "--label",
      "app=payment",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ALLOW services/payment-allow — matches (rule 0)");
    expect(r.stdout).toContain('✓ when[0] source.certificate_fingerprint: "sha256:dde6');
    expect(r.stdout).toContain("decision: ALLOW by services/payment-allow rule 0");
  });

  it("writes one JSON decision log line per decision, with credentials redacted", async () => {
    await runCli(paymentCall(["--principal", ORDER, "--path", "/x", "--header", "authorization=Bearer secret-token"]));
    // Log lines are written in batches (at least every 100 ms).
    const deadline = Date.now() + 3000;
    const decisionLines = () =>
      serve.output.stdout.split("\n").filter((l) => l.includes('"msg":"decision"') && l.includes('"path":"/x"'));
    while (decisionLines().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const last = JSON.parse(decisionLines().at(-1)!);
    expect(last).toMatchObject({ level: "info", decision: "deny", caller: ORDER, path: "/x" });
    expect(last.headers.authorization).toBe("[redacted]");
    expect(serve.output.stdout).not.toContain("secret-token");
  });
});

describe("signals", () => {
  it("SIGHUP reloads the policies; SIGTERM drains and exits 0", async () => {
    const policies = join(dir, "hup");
    await import("node:fs/promises").then((fs) => fs.mkdir(policies));
    const allow = (path: string) =>
      `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec:\n  rules:\n  - to: [{operation: {paths: ["${path}"]}}]\n`;
    await writeFile(join(policies, "p.yaml"), allow("/one"));
    const serve = await startServe(["--policy-dir", policies], { TRUSTGATE_POLICY_WATCH: "false" });
    try {
      const check = (path: string) =>
        runCli([
          "check",
          "--addr",
          serve.grpcAddress,
          "--principal",
          ORDER,
          "--destination-principal",
          PAYMENT,
          "--path",
          path,
        ]);
      expect((await check("/two")).code).toBe(1);
      await writeFile(join(policies, "p.yaml"), allow("/two"));
      serve.child.kill("SIGHUP");
      const deadline = Date.now() + 5000;
      while ((await check("/two")).code !== 0) {
        if (Date.now() > deadline) throw new Error("SIGHUP did not reload");
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(serve.output.stdout).toContain('"trigger":"SIGHUP"');
    } finally {
      expect(await serve.stop("SIGTERM")).toBe(0);
    }
    expect(serve.output.stdout).toContain("reporting NOT_SERVING, finishing in-flight calls");
    expect(serve.output.stdout).toContain('"msg":"stopped"');
  });

  it("serves gRPC on a unix socket", async () => {
    const socket = join(dir, "trustgate.sock");
    const serve = await startServe(["--policy-dir", "policies"], { TRUSTGATE_GRPC_ADDR: `unix:${socket}` });
    try {
      const r = await runCli(["health", "--addr", `unix:${socket}`]);
      expect(r.stdout.trim()).toBe("SERVING");
    } finally {
      await serve.stop();
    }
  });
});

describe("trustgate policy test / lint / explain (offline)", () => {
  it("policy test passes the example library and exits 0", async () => {
    const r = await runCli(["policy", "test", "policies"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ order creates a payment \(query string ignored\)/);
    expect(r.stdout).toMatch(/\d+ passed \(\d+ cases in \d+ files\)/);
  });

  it("policy test exits 1 with the explanation when a case fails, and --json is machine-readable", async () => {
    const policies = join(dir, "failing");
    await import("node:fs/promises").then((fs) => fs.mkdir(policies));
    await writeFile(
      join(policies, "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: services}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    await writeFile(
      join(policies, "p.test.yaml"),
      `cases:\n  - name: POST is allowed\n    request: {destination: {namespace: services}, method: POST}\n    expect: {decision: allow}\n  - name: GET is allowed\n    request: {destination: {namespace: services}, method: GET}\n    expect: {decision: allow, policy: services/p, rule: 0}\n`,
    );
    const text = await runCli(["policy", "test", policies]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("✗ POST is allowed");
    expect(text.stdout).toContain("expected allow, got deny");
    expect(text.stdout).toContain('✗ to[0].operation.methods: "POST" not in ["GET"]');
    expect(text.stdout).toContain("1 passed, 1 failed");
    const json = await runCli(["policy", "test", policies, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: 1, failed: 1 });
  });

  it("policy lint exits 1 on load errors with file and line, 0 with warnings", async () => {
    const broken = join(dir, "lint-broken");
    await import("node:fs/promises").then((fs) => fs.mkdir(broken));
    await writeFile(
      join(broken, "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  actoin: DENY\n",
    );
    const bad = await runCli(["policy", "lint", broken]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/p\.yaml:5: error: policy a\/p, field spec\.actoin: unknown field "actoin"/);

    const warn = join(dir, "lint-warn");
    await import("node:fs/promises").then((fs) => fs.mkdir(warn));
    await writeFile(
      join(warn, "p.yaml"),
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  rules:\n  - to: [{operation: {methods: [post]}}]\n",
    );
    const warned = await runCli(["policy", "lint", warn]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain("warning [lowercase-method]");
    expect(warned.stdout).toContain("0 errors, 1 warning(s)");

    const empty = join(dir, "lint-empty");
    await import("node:fs/promises").then((fs) => fs.mkdir(empty));
    const none = await runCli(["policy", "lint", empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no policies found");
  });

  it("policy lint --workloads warns when two workloads' container names or pod prefixes overlap", async () => {
    const inventory = join(dir, "overlapping-workloads.yaml");
    await writeFile(
      inventory,
      "workloads:\n  - {name: order, namespace: shop, serviceAccount: order, containers: [order], podPrefixes: [order-]}\n" +
        "  - {name: history, namespace: shop, serviceAccount: history, containers: [order], podPrefixes: [order-history-]}\n",
    );
    const r = await runCli(["policy", "lint", "--workloads", inventory, "policies"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("warning [workload-container-overlap] workloads order and history");
    expect(r.stdout).toContain("warning [workload-prefix-overlap] workloads order and history");
  });

  it("explain reads a request description from a file", async () => {
    const request = join(dir, "request.yaml");
    await writeFile(
      request,
      `source: {principal: ${ORDER}, risk: critical, alerts: [{priority: Critical, rule: Terminal shell in container, time: "2026-11-28T10:00:00Z"}]}\ndestination: {principal: ${PAYMENT}, labels: {app: payment}}\nmethod: POST\npath: /api/v1/payment/1\n`,
    );
    const r = await runCli(["explain", "--request", request]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("decision: DENY (403) by istio-system/deny-critical-runtime-risk rule 0");
    expect(r.stdout).toContain('Falco "Terminal shell in container" (Critical, 2026-11-28T10:00:00Z)');
    expect(r.stdout).toContain("policies that do not apply");
  });
});

describe("trustgate policy convert, and TrustgatePolicy files in test / lint / explain", () => {
  it("converts the example library to TrustgatePolicy and back: two lines per policy, comments kept", async () => {
    const tgp = await runCli(["policy", "convert", "policies"]);
    expect(tgp.code).toBe(0);
    expect(tgp.stderr).toMatch(/^\d+ policies converted to TrustgatePolicy/m);
    const count = (tgp.stdout.match(/^kind: TrustgatePolicy$/gm) ?? []).length;
    expect(count).toBeGreaterThan(5);
    expect(tgp.stdout.match(/^apiVersion: trustgate\.dev\/v1alpha1$/gm)).toHaveLength(count);
    expect(tgp.stdout).not.toContain("security.istio.io");
    expect(tgp.stdout).toContain("# All of that is ONE rule"); // a comment of payment.yaml
    const converted = join(dir, "tgp");
    await import("node:fs/promises").then((fs) => fs.mkdir(converted));
    await writeFile(join(converted, "policies.yaml"), tgp.stdout);

    const back = await runCli(["policy", "convert", "--to", "istio", "-"], { input: tgp.stdout });
    expect(back.code).toBe(0);
    expect(back.stdout.match(/^kind: AuthorizationPolicy$/gm)).toHaveLength(count);
    // trustgate's own keys are flagged for Istio.
    expect(back.stderr).toMatch(
      /warning: .*services\/payment-allow uses trustgate's own condition keys \(source\.certificate_fingerprint/,
    );
    const changed = tgp.stdout.split("\n").filter((line, i) => line !== back.stdout.split("\n")[i]);
    expect(changed).toHaveLength(2 * count);

    // The converted files are policies like any other: lint, the library's tests, explain.
    const lint = await runCli(["policy", "lint", converted]);
    expect(lint.code).toBe(0);
    expect(lint.stdout).toContain(`${count} policies in 1 files: 0 errors`);
    const { cp } = await import("node:fs/promises");
    for (const t of ["ecommerce/payment.test.yaml", "mesh/baseline.test.yaml"]) {
      await cp(join("policies", t), join(converted, t.replace("/", "-")));
    }
    const tests = await runCli(["policy", "test", converted]);
    expect(tests.code).toBe(0);
    expect(tests.stdout).toMatch(/\d+ passed \(\d+ cases in 2 files\)/);
    const explain = await runCli([
      "explain",
      "--policy-dir",
      converted,
      "--principal",
      ORDER,
      "--destination-principal",
      PAYMENT,
      "--label",
      "app=payment",
      "--method",
      "DELETE",
      "--path",
      "/api/v1/payment/1",
    ]);
    expect(explain.stdout).toContain("decision: DENY (403)");
    expect(explain.stdout).toContain("services/payment-allow");
  });

  it("refuses what would not load, naming the object, and unknown kinds", async () => {
    const broken = await runCli(["policy", "convert", "-"], {
      input:
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  action: CUSTOM\n  provider: {name: x}\n",
    });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("policy a/p, field spec.action: action CUSTOM");
    expect(broken.stdout).toBe("");
    const other = await runCli(["policy", "convert", "-"], {
      input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("<stdin>:1: kind must be AuthorizationPolicy");
    const list = await runCli(["policy", "convert", "--to", "istio", "-"], {
      input:
        "apiVersion: trustgate.dev/v1alpha1\nkind: TrustgatePolicyList\nmetadata: {resourceVersion: '9'}\nitems:\n- apiVersion: trustgate.dev/v1alpha1\n  kind: TrustgatePolicy\n  metadata: {name: p, namespace: a, uid: x, resourceVersion: '8', generation: 2, managedFields: []}\n  spec: {action: DENY, rules: [{}]}\n  status: {observedGeneration: 2}\n",
    });
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(
      "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: security.istio.io/v1\n    kind: AuthorizationPolicy\n    metadata: {name: p, namespace: a}\n    spec: {action: DENY, rules: [{}]}\n",
    );
  });
});

describe("JWT and mesh settings through the CLI (real process)", () => {
  const JWT_POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: jwt-only, namespace: services}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["https://issuer.example/*"], principals: ["cluster.local/ns/services/sa/order"]}}]
    when: [{key: "request.auth.claims[groups]", values: [payments]}]
`;
  let policies: string;
  let serve: ServeProcess;
  beforeAll(async () => {
    policies = join(dir, "jwt");
    await import("node:fs/promises").then((fs) => fs.mkdir(policies));
    await writeFile(join(policies, "p.yaml"), JWT_POLICY);
    serve = await startServe(["--policy-dir", policies], {
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_JWT_ENABLED: "true",
      TRUSTGATE_MESH_TRUST_DOMAIN: "td1",
      TRUSTGATE_TRUST_DOMAIN_ALIASES: "cluster.local",
    });
  });
  afterAll(async () => {
    await serve.stop();
  });

  const call = (extra: string[]) => [
    "check",
    "--addr",
    serve.grpcAddress,
    "--destination-principal",
    PAYMENT,
    "--principal",
    "spiffe://td1/ns/services/sa/order",
    ...extra,
  ];

  it("check --jwt-claims sends verified claims as jwt_authn metadata", async () => {
    const claims = JSON.stringify({ iss: "https://issuer.example", sub: "u1", groups: ["payments"] });
    const allowed = await runCli(call(["--jwt-claims", claims]));
    expect(allowed.stdout).toMatch(/^ALLOW {2}policy=services\/jwt-only rule=0/);
    const noToken = await runCli(call([]));
    expect(noToken.code).toBe(1);
    const wrongGroup = await runCli(
      call(["--jwt-claims", JSON.stringify({ iss: "https://issuer.example", sub: "u1" })]),
    );
    expect(wrongGroup.code).toBe(1);
    const bad = await runCli(call(["--jwt-claims", "[1]"]));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected a JSON object of claims");
  });

  it("policy test --config uses the server's mesh and JWT settings", async () => {
    await writeFile(
      join(policies, "p.test.yaml"),
      `cases:
  - name: a verified token of the issuer, from order in the mesh's own trust domain
    request:
      source: {principal: "spiffe://td1/ns/services/sa/order"}
      destination: {principal: ${PAYMENT}}
      jwt: {iss: "https://issuer.example", sub: u1, groups: [payments]}
    expect: {decision: allow, policy: services/jwt-only}
  - name: no token
    request:
      source: {principal: "spiffe://td1/ns/services/sa/order"}
      destination: {principal: ${PAYMENT}}
      jwt: null
    expect: {decision: deny}
`,
    );
    const config = join(dir, "mesh.yaml");
    await writeFile(config, "identity:\n  meshTrustDomain: td1\njwt:\n  enabled: true\n");
    const withConfig = await runCli(["policy", "test", policies, "--config", config]);
    expect(withConfig.stdout).toContain("2 passed");
    expect(withConfig.code).toBe(0);
    // Without the configuration cluster.local is the mesh's trust domain: order in td1 is someone else.
    const without = await runCli(["policy", "test", policies]);
    expect(without.code).toBe(1);
    const lint = await runCli(["policy", "lint", policies]);
    expect(lint.stdout).toContain("warning [jwt-not-forwarded]");
    const quiet = await runCli(["policy", "lint", policies, "--config", config]);
    expect(quiet.stdout).not.toContain("jwt-not-forwarded");
  });
});
