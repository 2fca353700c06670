/**
 * Istio conformance: every scenario in scenarios/*.yaml is loaded into a real trustgate server and every case is
 * sent as a CheckRequest encoded with the upstream Envoy protos over gRPC. trustgate must answer what Istio's Envoy
 * RBAC answers (the `istio` field, derived from the named upstream source), except where a case documents a closed
 * trap (trustgate denies) or a deliberate refusal — and the data itself is checked so that no case ever lets
 * trustgate allow what Istio denies.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildCheckRequest } from "../../authz-server/src/extauthz/build-check-request.js";
import { startTestServer, type TestServer } from "../../authz-server/test/support/test-server.js";
import { UpstreamCheckClient } from "../support/upstream-envoy.js";
import { differenceProblem, expected, readScenarios, type Scenario, type ScenarioRequest } from "./scenario-file.js";

const here = dirname(fileURLToPath(import.meta.url));
const scenarios = await readScenarios(join(here, "scenarios"));

const CALLER = "spiffe://cluster.local/ns/foo/sa/sleep";
const DESTINATION = "spiffe://cluster.local/ns/foo/sa/httpbin";

function policyYaml(s: Scenario): string {
  return s.policies
    .map((p) =>
      stringify({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: p.name, namespace: p.ns, ...(p.annotations ? { annotations: p.annotations } : {}) },
        ...(p.spec === undefined ? {} : { spec: p.spec }),
      }),
    )
    .join("---\n");
}

function checkRequest(r: ScenarioRequest): Record<string, unknown> {
  return buildCheckRequest({
    source: { principal: r.from ?? CALLER, ip: r.ip ?? "10.0.0.1", port: 45000 },
    destination: {
      principal: DESTINATION,
      ip: r.dst?.ip ?? "10.0.0.2",
      port: r.dst?.port ?? 8080,
      labels: r.dst?.labels ?? { app: "httpbin" },
    },
    tcp: r.tcp,
    method: r.method ?? "GET",
    path: r.path ?? "/",
    host: r.host ?? "httpbin.foo",
    headers: r.headers,
    sni: r.sni,
    jwt: r.jwt,
  }) as unknown as Record<string, unknown>;
}

function meshConfig(mesh: Scenario["mesh"]): Record<string, unknown> {
  return {
    policies: { rootNamespace: "istio-system" },
    identity: {
      meshTrustDomain: mesh?.trustDomain ?? "cluster.local",
      trustDomainAliases: mesh?.trustDomainAliases ?? [],
    },
    // Istio's RBAC always sees the jwt_authn metadata; trustgate is told Envoy forwards it.
    jwt: { enabled: true, payloadKeys: mesh?.jwtPayloadKeys ?? [] },
    remoteIp: { numTrustedProxies: mesh?.numTrustedProxies ?? 0 },
    log: { level: "warn", decisions: "none" },
  };
}

const tally = { scenarios: 0, cases: 0, agree: 0, traps: 0, refusals: 0, rejected: 0 };

describe("the scenario data keeps the promise", () => {
  it("every case differs from Istio only at a documented trap (deny) or an explained refusal", () => {
    const problems = scenarios.flatMap((s) =>
      s.cases.flatMap((c, i) => {
        const p = differenceProblem(c);
        return p === null ? [] : [`${s.id} case ${i}: ${p}`];
      }),
    );
    expect(problems).toEqual([]);
    expect(scenarios.length).toBeGreaterThanOrEqual(130);
  });
});

const byMesh = new Map<string, Scenario[]>();
for (const s of scenarios) {
  const key = JSON.stringify(s.mesh ?? {});
  byMesh.set(key, [...(byMesh.get(key) ?? []), s]);
}

for (const [key, group] of byMesh) {
  describe(`Istio conformance, mesh ${key}`, () => {
    let server: TestServer;
    let client: UpstreamCheckClient;

    beforeAll(async () => {
      server = await startTestServer({}, meshConfig(group[0]!.mesh));
      client = new UpstreamCheckClient(server.grpcAddress);
    });

    afterAll(async () => {
      client?.close();
      await server?.stop();
    });

    for (const s of group) {
      it(`${s.id} ${s.title}`, async () => {
        for (const f of await readdir(server.policyDir)) await rm(join(server.policyDir, f), { recursive: true });
        await mkdir(server.policyDir, { recursive: true });
        if (s.policies.length > 0) await writeFile(join(server.policyDir, "policies.yaml"), policyYaml(s));
        const set = await server.server.reload(`conformance ${s.id}`);
        tally.scenarios++;
        const rejected = s.cases.every((c) => expected(c) === "REJECTED");
        if (rejected) {
          expect(set, `${s.id}: the policies should be refused (${s.source})`).toBeNull();
          expect(server.server.loader.lastError).toBeTruthy();
          tally.cases += s.cases.length;
          tally.rejected += s.cases.length;
          tally.refusals += s.cases.filter((c) => c.istio !== "REJECTED").length;
          return;
        }
        expect(set, `${s.id}: the policies should load: ${server.server.loader.lastError}`).not.toBeNull();
        const mismatches: string[] = [];
        for (const [i, c] of s.cases.entries()) {
          const { message } = await client.check(checkRequest(c.req));
          const code = (message.status as { code?: number } | undefined)?.code ?? 0;
          const got = code === 0 ? "ALLOW" : "DENY";
          tally.cases++;
          if (got !== expected(c)) {
            mismatches.push(
              `case ${i} ${JSON.stringify(c.req)}: Istio ${c.istio}, expected ${expected(c)}, got ${got}`,
            );
          } else if (got === c.istio) tally.agree++;
          else tally.traps++;
        }
        expect(mismatches, `${s.id} (${s.source})`).toEqual([]);
      });
    }
  });
}

afterAll(() => {
  console.log(
    `istio conformance: ${tally.scenarios} scenarios, ${tally.cases} cases — ${tally.agree} decided as Istio, ${tally.rejected} refused at load (${tally.refusals} where Istio would not refuse), ${tally.traps} documented traps denied`,
  );
});
