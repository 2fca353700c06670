// The TrustgatePolicy CRD: structural (as the API server requires), its schema refuses what a schema can, every
// policy of the example library converted to TrustgatePolicy passes it, and it says exactly what trustgate's
// compiler accepts: a field, action or condition key is in the schema if and only if trustgate loads it (so a
// change to the compiler that is not carried into the CRD fails here).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { compilePolicy } from "../../authz-server/src/policy/compile-policy.js";
import { OPERATION_FIELDS, SOURCE_FIELDS, SUPPORTED_KEYS } from "../../authz-server/src/policy/field-specs.js";
import { objectDocument } from "../../authz-server/src/policy/object-document.js";
import { convertPolicyText } from "../../authz-server/src/policy-tools/convert-policy.js";
import { checkCrdSchemas, installCrdFiles, validateCustomObject } from "./crd.js";
import { formatIssues, type Issue } from "./issues.js";
import { validateManifest } from "./manifests.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are reshaped freely
type Obj = Record<string, any>;

const crdFile = installCrdFiles().find((f) => f.endsWith("crd-trustgatepolicies.yaml"))!;
const crd = (): Obj => YAML.parse(readFileSync(crdFile, "utf8")) as Obj;
const schemaOf = (c: Obj): Obj => c.spec.versions[0].schema.openAPIV3Schema;
const specSchema = (): Obj => schemaOf(crd()).properties.spec;

function expectIssue(issues: Issue[], path: string, message: RegExp): void {
  const hit = issues.find((i) => i.path === path && message.test(i.message));
  expect(hit, `expected ${path}: ${message}\ngot:\n${formatIssues(issues)}`).toBeDefined();
}

function policy(spec: Obj): Obj {
  return {
    apiVersion: "trustgate.dev/v1alpha1",
    kind: "TrustgatePolicy",
    metadata: { name: "p", namespace: "shop" },
    spec,
  };
}

/** Does trustgate's compiler load this spec? */
function compiles(spec: Obj): boolean {
  return compilePolicy(objectDocument("test", policy(spec))).policy !== null;
}

/** Does the CRD's schema accept it? */
function schemaAccepts(spec: Obj): boolean {
  return validateCustomObject(policy(spec)).length === 0;
}

describe("TrustgatePolicy CRD", () => {
  it("names, scope, status subresource, printer columns", () => {
    const c = crd();
    expect(c.metadata.name).toBe("trustgatepolicies.trustgate.dev");
    expect(c.spec).toMatchObject({
      group: "trustgate.dev",
      scope: "Namespaced",
      names: { kind: "TrustgatePolicy", plural: "trustgatepolicies", singular: "trustgatepolicy", shortNames: ["tgp"] },
    });
    const v = c.spec.versions[0];
    expect(v).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
    const shown = v.additionalPrinterColumns
      .filter((col: Obj) => (col.priority ?? 0) === 0)
      .map((col: Obj) => col.name);
    expect(shown).toEqual(["Action", "Accepted", "Age"]);
    expect(v.additionalPrinterColumns.find((col: Obj) => col.name === "Accepted").jsonPath).toBe(
      '.status.conditions[?(@.type=="Accepted")].status',
    );
  });

  it("is a structural schema and a valid CRD object", () => {
    expect(formatIssues(validateManifest(crd()))).toBe("");
    expect(formatIssues(checkCrdSchemas(crd()))).toBe("");
  });

  it("the structural check catches what the API server would refuse", () => {
    const untyped = crd();
    delete schemaOf(untyped).properties.spec.properties.action.type;
    expectIssue(
      checkCrdSchemas(untyped),
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.action",
      /needs a type/,
    );
    const both = crd();
    schemaOf(both).properties.spec.properties.selector.additionalProperties = { type: "string" };
    expectIssue(
      checkCrdSchemas(both),
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.selector",
      /mutually exclusive/,
    );
    const badDefault = crd();
    schemaOf(badDefault).properties.spec.properties.action.default = "PERMIT";
    expectIssue(
      checkCrdSchemas(badDefault),
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.action.default",
      /does not validate/,
    );
    const keyword = crd();
    schemaOf(keyword).properties.spec.properties.action.enumm = ["ALLOW"];
    expectIssue(
      checkCrdSchemas(keyword),
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.action.enumm",
      /unknown schema keyword/,
    );
    const typedJunctor = crd();
    schemaOf(typedJunctor).properties.spec.properties.rules.items.properties.when.items.anyOf[0].type = "object";
    expect(formatIssues(checkCrdSchemas(typedJunctor))).toMatch(/anyOf\[0\]\.type: "type" is not allowed inside/);
  });

  it("every policy of the example library, converted to TrustgatePolicy, passes the schema", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".yaml") && !e.name.endsWith(".test.yaml")) files.push(join(d, e.name));
      }
    };
    walk(join(import.meta.dirname, "..", "..", "policies"));
    walk(join(import.meta.dirname, "..", "compose", "trustgate", "policies"));
    let checked = 0;
    for (const file of files) {
      const converted = convertPolicyText(readFileSync(file, "utf8"), file, "trustgate");
      expect(converted.ok, file).toBe(true);
      if (!converted.ok) continue;
      for (const doc of YAML.parseAllDocuments(converted.yaml)) {
        const obj = doc.toJS() as Obj;
        expect(formatIssues(validateManifest(obj, `${file}: ${obj.metadata.name}`))).toBe("");
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("refuses unknown fields, unknown actions and keys, empty lists, conditions without values", () => {
    const issues = validateCustomObject(
      policy({
        action: "CUSTOM",
        provider: { name: "x" },
        rules: [
          {
            from: [{ source: { principals: [], principal: ["a"] } }],
            to: [{ operation: { ports: [8080] } }],
            when: [{ key: "destination.namespace", values: ["x"] }, { key: "source.ip" }],
          },
        ],
      }),
    );
    expectIssue(issues, "spec.action", /must be one of "ALLOW", "DENY", "AUDIT"/);
    expectIssue(issues, "spec.provider", /unknown field "provider"/);
    expectIssue(issues, "spec.rules[0].from[0].source.principal", /unknown field "principal"/);
    expectIssue(issues, "spec.rules[0].from[0].source.principals", /must NOT have fewer than 1 items/);
    expectIssue(issues, "spec.rules[0].to[0].operation.ports[0]", /must be string/); // as in Istio's CRD
    expectIssue(issues, "spec.rules[0].when[0].key", /must match pattern/);
    expectIssue(issues, "spec.rules[0].when[1]", /values or notValues/);
    expectIssue(validateCustomObject({ ...policy({}), spec: undefined }), "", /must have required property 'spec'/);
    expectIssue(validateCustomObject({ ...policy({}), extra: 1 }), "extra", /unknown field "extra"/);
    // trustgate's status passes its own schema.
    expect(
      formatIssues(
        validateCustomObject({
          ...policy({ action: "DENY" }),
          status: {
            observedGeneration: 2,
            conditions: [
              {
                type: "Accepted",
                status: "False",
                reason: "Invalid",
                message: "x",
                observedGeneration: 2,
                lastTransitionTime: "2026-03-01T10:00:00Z",
              },
            ],
          },
        }),
      ),
    ).toBe("");
  });
});

describe("the CRD says exactly what trustgate's compiler accepts", () => {
  /** Every field of Istio's Source, Operation and AuthorizationPolicy spec, with a value each would accept. */
  const ISTIO_SOURCE_FIELDS: Record<string, string> = {
    principals: "cluster.local/ns/a/sa/b",
    requestPrincipals: "issuer.example/subject",
    namespaces: "a",
    serviceAccounts: "a/b",
    ipBlocks: "10.0.0.0/8",
    remoteIpBlocks: "10.0.0.0/8",
    trustDomains: "cluster.local",
  };
  const ISTIO_OPERATION_FIELDS: Record<string, string> = {
    hosts: "a.example",
    ports: "80",
    methods: "GET",
    paths: "/a",
  };
  const SAMPLE_VALUES: Record<string, string> = {
    "request.auth.principal": "issuer.example/subject",
    "source.trustDomain": "cluster.local",
    "source.ip": "10.0.0.1",
    "destination.ip": "10.0.0.1",
    "remote.ip": "10.0.0.1",
    "destination.port": "80",
    "source.principal": "cluster.local/ns/a/sa/b",
    "source.serviceAccount": "a/b",
    "source.certificate_fingerprint": `sha256:${"ab".repeat(32)}`,
    "custom.falco_risk_score": "high",
    "custom.destination_falco_risk_score": "high",
    "custom.falco_alert": "critical",
    "custom.destination_falco_alert": "critical",
    "custom.falco_feed": "fresh",
  };
  /** Keys Istio knows but refuses, or that look plausible, or name JavaScript built-ins. */
  const OTHER_KEYS = [
    "request.experimental.inline.headers[x-a]",
    "destination.namespace",
    "destination.user",
    "request.auth.claims",
    "request.headers",
    "source.ip2",
    "constructor",
    "toString",
    "__proto__",
  ];
  /** The compiler's own list of supported keys, with its placeholders filled in. */
  const accepted = SUPPORTED_KEYS.map((k) =>
    k
      .replace("request.headers[<name>]", "request.headers[x-request-id]")
      .replace("request.auth.claims[<name>]…", "request.auth.claims[groups]")
      .replace(
        "experimental.envoy.filters.<filter>[<key>]",
        "experimental.envoy.filters.network.mysql_proxy[db.table]",
      ),
  );
  const keyPattern = new RegExp(specSchema().properties.rules.items.properties.when.items.properties.key.pattern);

  it("source and operation fields", () => {
    const sourceSchema = specSchema().properties.rules.items.properties.from.items.properties.source.properties;
    const operationSchema = specSchema().properties.rules.items.properties.to.items.properties.operation.properties;
    // The compiler's field tables and the schema list the same fields...
    expect(Object.keys(sourceSchema).sort()).toEqual([...SOURCE_FIELDS.keys()].sort());
    expect(Object.keys(operationSchema).sort()).toEqual([...OPERATION_FIELDS.keys()].sort());
    // ...and each one, with a value, loads exactly when the schema takes it.
    const check = (fields: Record<string, string>, schema: Obj, wrap: (f: string, v: string) => Obj) => {
      for (const [field, value] of Object.entries(fields)) {
        for (const name of [field, `not${field[0]!.toUpperCase()}${field.slice(1)}`]) {
          const spec = { rules: [wrap(name, value)] };
          expect(name in schema, `${name}: the compiler ${compiles(spec) ? "accepts" : "refuses"} it`).toBe(
            compiles(spec),
          );
          expect(schemaAccepts(spec), name).toBe(compiles(spec));
        }
      }
    };
    check(ISTIO_SOURCE_FIELDS, sourceSchema, (f, v) => ({ from: [{ source: { [f]: [v] } }] }));
    check(ISTIO_OPERATION_FIELDS, operationSchema, (f, v) => ({ to: [{ operation: { [f]: [v] } }] }));
  });

  it("spec fields and actions", () => {
    const samples: Record<string, unknown> = {
      selector: { matchLabels: { app: "a" } },
      action: "AUDIT",
      rules: [{}],
      targetRef: { kind: "Service", name: "a" },
      targetRefs: [{ kind: "Service", name: "a" }],
      provider: { name: "a" },
    };
    for (const [field, value] of Object.entries(samples)) {
      const spec = { [field]: value };
      expect(
        field in specSchema().properties,
        `${field}: the compiler ${compiles(spec) ? "accepts" : "refuses"} it`,
      ).toBe(compiles(spec));
    }
    for (const action of ["ALLOW", "DENY", "AUDIT", "CUSTOM"]) {
      expect(specSchema().properties.action.enum.includes(action), action).toBe(compiles({ action, rules: [{}] }));
    }
  });

  it("condition keys", () => {
    expect(accepted.some((k) => k.includes("<"))).toBe(false);
    for (const key of [...accepted, "request.auth.claims[nested][key]", ...OTHER_KEYS]) {
      const spec = { rules: [{ when: [{ key, values: [SAMPLE_VALUES[key] ?? "*"] }] }] };
      const loads = compiles(spec);
      expect(keyPattern.test(key), `${key}: the compiler ${loads ? "accepts" : "refuses"} it`).toBe(loads);
    }
    for (const key of accepted) expect(keyPattern.test(key), key).toBe(true);
  });
});
