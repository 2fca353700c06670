// docker-compose.yml against the Compose specification schema and its cross-references, and the validator
// itself on mutated copies (written to a temporary project directory that mirrors the repository).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  checkComposeReferences,
  checkComposeSchema,
  composeSchemaFile,
  interpolate,
  parseComposeYaml,
  validateComposeFile,
} from "./compose.js";
import { formatIssues, type Issue } from "./issues.js";

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are reshaped freely
type Obj = Record<string, any>;

const repo = join(import.meta.dirname, "..", "..");
const composeFile = join(repo, "docker-compose.yml");
const load = (): Obj => parseComposeYaml(readFileSync(composeFile, "utf8")).doc as Obj;

function expectIssue(issues: Issue[], path: string | RegExp, message: RegExp): void {
  const hit = issues.find(
    (i) => (typeof path === "string" ? i.path === path : path.test(i.path)) && message.test(i.message),
  );
  expect(hit, `expected ${path}: ${message}\ngot:\n${formatIssues(issues)}`).toBeDefined();
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose specification schema and all its cross-references resolve", () => {
    expect(formatIssues(validateComposeFile(composeFile))).toBe("");
  });

  it("uses the current Compose specification schema", () => {
    const schema = JSON.parse(readFileSync(composeSchemaFile, "utf8"));
    expect(schema.title).toBe("Compose Specification");
    // features of recent Compose versions are in it, so this is not an outdated copy
    expect(JSON.stringify(schema)).toContain('"gw_priority"');
  });

  it("pins every image it does not build to an exact version", () => {
    for (const [name, s] of Object.entries(load().services as Record<string, Obj>)) {
      if (s.build) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
  });
});

describe("Compose schema check on mutated copies", () => {
  it("rejects an unknown service key", () => {
    const doc = load();
    doc.services.trustgate.healtcheck = doc.services.trustgate.healthcheck;
    expectIssue(checkComposeSchema(doc), "services.trustgate", /must NOT have additional properties "healtcheck"/);
  });

  it("rejects a wrong type", () => {
    const doc = load();
    doc.services.trustgate.read_only = { yes: true };
    expectIssue(checkComposeSchema(doc), "services.trustgate.read_only", /must be (boolean|string)/);
    const d2 = load();
    d2.services["spire-agent"].volumes = "spire-agent-socket:/run/spire/sockets";
    expectIssue(checkComposeSchema(d2), "services.spire-agent.volumes", /must be array/);
  });

  it("rejects a bad depends_on condition", () => {
    const doc = load();
    doc.services["spire-register"].depends_on["spire-server"].condition = "service_ready";
    expectIssue(
      checkComposeSchema(doc),
      /^services\.spire-register\.depends_on\.spire-server\.condition$/,
      /must be equal to one of the allowed values/,
    );
  });

  it("reports YAML duplicate keys", () => {
    const { issues } = parseComposeYaml("services:\n  a: { image: x }\n  a: { image: y }\n");
    expect(issues.some((i) => /Map keys must be unique/.test(i.message))).toBe(true);
  });
});

describe("Compose cross-references on mutated copies", () => {
  let project: string;

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "trustgate-compose-"));
    for (const dir of [
      "envoy-configs/compose",
      "envoy-configs/observability",
      "authz-server",
      "policies",
      "wasm-filter/scripts",
    ]) {
      cpSync(join(repo, dir), join(project, dir), { recursive: true });
    }
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  const check = (doc: Obj) => checkComposeReferences(doc, project);
  const writeBootstrap = (name: string, mutate: (b: Obj) => void) => {
    const file = join(project, "envoy-configs", "compose", "envoy", `${name}.yaml`);
    const b = YAML.parse(readFileSync(join(repo, "envoy-configs", "compose", "envoy", `${name}.yaml`), "utf8"));
    mutate(b);
    writeFileSync(file, YAML.stringify(b));
  };
  const restoreBootstrap = (name: string) =>
    cpSync(
      join(repo, "envoy-configs", "compose", "envoy", `${name}.yaml`),
      join(project, "envoy-configs", "compose", "envoy", `${name}.yaml`),
    );

  it("passes on an unchanged copy", () => {
    expect(formatIssues(check(load()))).toBe("");
  });

  it("finds an OTLP endpoint no compose service listens on", () => {
    const doc = load();
    doc.services.trustgate.environment.OTEL_EXPORTER_OTLP_ENDPOINT = "http://otel-collector:4319";
    expectIssue(
      check(doc),
      "services.trustgate.environment",
      /OTEL_EXPORTER_OTLP_ENDPOINT .*:4319 is not a compose service/,
    );
  });

  it("finds a mounted file that does not exist", () => {
    const doc = load();
    doc.services.trustgate.volumes[0] =
      "./envoy-configs/compose/trustgate/trustgate.yml:/etc/trustgate/trustgate.yaml:ro";
    expectIssue(check(doc), "services.trustgate.volumes", /trustgate\.yml does not exist/);
  });

  it("finds an undeclared named volume and an unknown dependency", () => {
    const doc = load();
    doc.services["spire-register"].volumes[1] = "spire-server-sockets:/run/spire/server/private";
    doc.services.falco.depends_on = { sidekick: { condition: "service_started" } };
    const issues = check(doc);
    expectIssue(issues, "services.spire-register.volumes", /named volume "spire-server-sockets" is not declared/);
    expectIssue(issues, "services.falco.depends_on", /unknown service "sidekick"/);
  });

  it("finds an Envoy cluster whose host is not a compose service", () => {
    writeBootstrap("order", (b) => {
      b.static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address =
        "authz";
    });
    try {
      expectIssue(
        check(load()),
        /envoy\/order\.yaml: static_resources\.clusters\[1\]/,
        /points at "authz", which is not a compose service/,
      );
    } finally {
      restoreBootstrap("order");
    }
  });

  it("finds an Envoy cluster calling a port the service does not listen on", () => {
    writeBootstrap("web", (b) => {
      b.static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 9090;
    });
    try {
      expectIssue(check(load()), /envoy\/web\.yaml/, /calls trustgate:9090, but trustgate listens on 9191, 9192/);
    } finally {
      restoreBootstrap("web");
    }
  });

  it("finds a SPIRE socket path the agent does not create", () => {
    const doc = load();
    doc.services["envoy-api"].volumes[2] = "spire-agent-socket:/run/spire/agent:ro";
    expectIssue(
      check(doc),
      /envoy\/api\.yaml/,
      /socket \/run\/spire\/sockets\/agent\.sock is not inside any volume mounted into envoy-api/,
    );
    const d2 = load();
    d2.services["spire-agent"].volumes[1] = "spire-agent-socket:/run/spire/other";
    expectIssue(
      check(d2),
      /envoy\/web\.yaml/,
      /creates \/run\/spire\/sockets\/agent\.sock|no service creates the socket/,
    );
  });

  it("finds an app port that differs from the sidecar's local_app cluster", () => {
    const doc = load();
    doc.services.web.environment.PORT = "8081";
    expectIssue(check(doc), /envoy\/web\.yaml/, /local_app port 8080 differs from the app's PORT \(8081\)/);
  });

  it("finds a wasm module that is not mounted into the sidecar", () => {
    const doc = load();
    doc.services["envoy-cache"].volumes.splice(1, 1);
    expectIssue(
      check(doc),
      /envoy\/cache\.yaml/,
      /wasm file \/etc\/envoy\/trustgate_filter\.wasm is not mounted into envoy-cache/,
    );
  });

  it("validates the mounted Envoy bootstraps with the strict decoder", () => {
    writeBootstrap("payment", (b) => {
      b.static_resources.listeners[0].per_connection_buffer_limit = 1;
    });
    try {
      expectIssue(
        check(load()),
        /envoy\/payment\.yaml: static_resources\.listeners\[0\]\.per_connection_buffer_limit/,
        /unknown field/,
      );
    } finally {
      restoreBootstrap("payment");
    }
  });
});

describe("interpolation", () => {
  it("applies the defaults written in the file", () => {
    const ref = (body: string) => `\${${body}}`; // builds a Compose reference such as ${TOKEN:-demo}
    expect(interpolate(`Bearer ${ref("TOKEN:-demo")}`)).toBe("Bearer demo");
    expect(interpolate(`Bearer ${ref("TOKEN:-demo")}`, { TOKEN: "s3cret" })).toBe("Bearer s3cret");
    expect(interpolate(ref("TOKEN-demo"), { TOKEN: "" })).toBe("");
    expect(interpolate(ref("TOKEN:-demo"), { TOKEN: "" })).toBe("demo");
  });
});
