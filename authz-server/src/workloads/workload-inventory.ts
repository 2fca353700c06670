/**
 * The workload inventory (`workloads.file`): the workloads of the mesh with their namespace, service account,
 * labels and the container names / pod-name prefixes / images Falco reports for them. Used to fill in destination
 * labels Envoy did not send, to lint policy selectors and principals, and by the Falco `static` mapping.
 */
import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { parseSpiffeId, trustDomainError } from "../identity/spiffe-id.js";
import { formatIssues } from "../util/format-issues.js";
import { ownRecord } from "../util/own-record.js";
import {
  DEFAULT_YAML_LIMITS,
  formatYamlProblem,
  parseYamlValue,
  sizeProblem,
  type YamlLimits,
} from "../util/safe-yaml.js";
import { type Workload, WorkloadInventory } from "./workload-index.js";

export { type Workload, WorkloadInventory };

const workloadSchema = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1),
    spiffeId: z.string().optional(),
    labels: ownRecord(z.string()).default(() => Object.create(null)),
    containers: z.array(z.string().min(1)).default([]),
    podPrefixes: z.array(z.string().min(1)).default([]),
    images: z.array(z.string().min(1)).default([]),
  })
  .strict();

const fileSchema = z
  .object({
    trustDomain: z.string().optional(),
    workloads: z.array(workloadSchema),
  })
  .strict();

export type InventoryResult = { ok: true; inventory: WorkloadInventory } | { ok: false; error: string };

/** Parses an inventory document; the error names the file and field. */
export function parseWorkloadInventory(value: unknown, file: string, defaultTrustDomain: string): InventoryResult {
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error, file) };
  const trustDomain = parsed.data.trustDomain ?? defaultTrustDomain;
  const tdError = trustDomainError(trustDomain);
  if (tdError) return { ok: false, error: `${file}: trustDomain: ${tdError}` };
  const seen = new Set<string>();
  const workloads: Workload[] = [];
  for (const [i, w] of parsed.data.workloads.entries()) {
    const spiffeId = w.spiffeId ?? `spiffe://${trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
    const id = parseSpiffeId(spiffeId);
    if (!id.ok) return { ok: false, error: `${file}: workloads.${i}: SPIFFE ID ${spiffeId}: ${id.error}` };
    if (seen.has(w.name)) return { ok: false, error: `${file}: workloads.${i}: duplicate workload name ${w.name}` };
    seen.add(w.name);
    workloads.push({ ...w, spiffeId });
  }
  return { ok: true, inventory: new WorkloadInventory(workloads) };
}

export async function loadWorkloadInventory(
  file: string,
  defaultTrustDomain: string,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): Promise<InventoryResult> {
  if (file === "") return { ok: true, inventory: WorkloadInventory.empty() };
  let text: string;
  try {
    const tooBig = sizeProblem((await stat(file)).size, limits);
    if (tooBig) return { ok: false, error: `workloads file ${formatYamlProblem(file, tooBig)}` };
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, error: `cannot read workloads file ${file}: ${(err as Error).message}` };
  }
  const parsed = parseYamlValue(text, limits);
  if (!parsed.ok) return { ok: false, error: `workloads file ${formatYamlProblem(file, parsed.problem)}` };
  return parseWorkloadInventory(parsed.value, file, defaultTrustDomain);
}
