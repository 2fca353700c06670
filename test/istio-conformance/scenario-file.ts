/**
 * The conformance scenario format: AuthorizationPolicies, requests as the CheckRequest carries them (after the
 * proxy's own normalisation), and the decision Istio's Envoy RBAC takes — each scenario naming the upstream source
 * that decision comes from. See README.md.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";

const decision = z.enum(["ALLOW", "DENY", "REJECTED"]);

export const requestSchema = z
  .object({
    /** The caller's SPIFFE ID; "" for a plaintext caller. Default spiffe://cluster.local/ns/foo/sa/sleep. */
    from: z.string().optional(),
    /** The direct peer address (default 10.0.0.1). */
    ip: z.string().optional(),
    method: z.string().optional(),
    /** The path (query included) as the CheckRequest carries it. */
    path: z.string().optional(),
    host: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** A TCP connection (network filter) check: no HTTP request. */
    tcp: z.boolean().optional(),
    /** The TLS session's SNI; omitted: the CheckRequest has no TLS session (as from Istio's CUSTOM provider). */
    sni: z.string().optional(),
    /** The verified JWT payload Envoy's jwt_authn forwards (after normalising space-delimited claims). */
    jwt: z.record(z.string(), z.unknown()).nullable().optional(),
    dst: z
      .object({
        port: z.number().int().optional(),
        ip: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const caseSchema = z
  .object({
    req: requestSchema,
    /** Istio's decision; REJECTED: istiod's validation refuses the policies, so they never take effect. */
    istio: decision,
    /** A documented Istio trap: the author meant to stop the request, Istio lets it through. */
    trap: z.boolean().optional(),
    /** trustgate's decision where it differs from Istio's (a closed trap, or a deliberate refusal). */
    trustgate: decision.optional(),
    note: z.string().optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    id: z.string().min(1),
    title: z.string().min(1),
    /** Where Istio's decisions come from: doc URL, proto field, Istio source file or test name. */
    source: z.string().min(10),
    /** Mesh and proxy facts this scenario assumes (default: trust domain cluster.local, a sidecar). */
    mesh: z
      .object({
        trustDomain: z.string().optional(),
        trustDomainAliases: z.array(z.string()).optional(),
        numTrustedProxies: z.number().int().min(0).optional(),
        jwtPayloadKeys: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
    policies: z.array(
      z
        .object({
          name: z.string(),
          ns: z.string().default("foo"),
          annotations: z.record(z.string(), z.string()).optional(),
          spec: z.unknown(),
        })
        .strict(),
    ),
    cases: z.array(caseSchema).min(1),
  })
  .strict();

export const fileSchema = z
  .object({ group: z.string(), title: z.string(), scenarios: z.array(scenarioSchema).min(1) })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioCase = z.infer<typeof caseSchema>;
export type ScenarioRequest = z.infer<typeof requestSchema>;

export async function readScenarios(dir: string): Promise<Scenario[]> {
  const out: Scenario[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".yaml")).sort()) {
    const parsed = fileSchema.safeParse(parse(await readFile(join(dir, name), "utf8")));
    if (!parsed.success) throw new Error(`${name}: ${JSON.stringify(parsed.error.issues[0])}`);
    out.push(...parsed.data.scenarios);
  }
  const ids = new Set<string>();
  for (const s of out) {
    if (ids.has(s.id)) throw new Error(`duplicate scenario id ${s.id}`);
    ids.add(s.id);
  }
  return out;
}

/** What trustgate must answer: Istio's decision unless the scenario documents a difference. */
export function expected(c: ScenarioCase): "ALLOW" | "DENY" | "REJECTED" {
  return c.trustgate ?? c.istio;
}

/**
 * The promise itself, checked on the data: trustgate may differ from Istio only by denying at a documented trap, or
 * by refusing a policy Istio would ignore. It never allows what Istio denies.
 */
export function differenceProblem(c: ScenarioCase): string | null {
  const tg = expected(c);
  if (tg === c.istio) return null;
  if (tg === "ALLOW") return `trustgate would allow what Istio answers ${c.istio}`;
  if (tg === "DENY" && c.istio === "ALLOW" && c.trap === true) return null;
  if (tg === "REJECTED" && c.istio !== "DENY" && c.note !== undefined) return null;
  return `trustgate ${tg} vs Istio ${c.istio} is neither a documented trap nor an explained refusal`;
}
