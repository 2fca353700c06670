/**
 * The workload inventory (`workloads.file`): the workloads of the mesh with their namespace, service account,
 * labels and the container names / pod-name prefixes / images Falco reports for them. Used to fill in destination
 * labels Envoy did not send, to lint policy selectors and principals, and by the Falco `static` mapping.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseSpiffeId, trustDomainError } from "../identity/spiffe-id.js";

const workloadSchema = z
  .object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1),
    spiffeId: z.string().optional(),
    labels: z.record(z.string(), z.string()).default({}),
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

export interface Workload {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly spiffeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly string[];
  readonly podPrefixes: readonly string[];
  readonly images: readonly string[];
}

export class WorkloadInventory {
  private readonly bySpiffeId = new Map<string, Workload>();

  constructor(readonly workloads: readonly Workload[]) {
    for (const w of workloads) this.bySpiffeId.set(w.spiffeId, w);
  }

  static empty(): WorkloadInventory {
    return new WorkloadInventory([]);
  }

  bySpiffe(spiffeId: string): Workload | undefined {
    return this.bySpiffeId.get(spiffeId);
  }

  labelsOf(spiffeId: string): Readonly<Record<string, string>> | undefined {
    return this.bySpiffeId.get(spiffeId)?.labels;
  }

  get size(): number {
    return this.workloads.length;
  }
}

/** Parses an inventory document; throws an Error naming the file and field on any problem. */
export function parseWorkloadInventory(value: unknown, file: string, defaultTrustDomain: string): WorkloadInventory {
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${file}: ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(issues.join("\n"));
  }
  const trustDomain = parsed.data.trustDomain ?? defaultTrustDomain;
  const tdError = trustDomainError(trustDomain);
  if (tdError) throw new Error(`${file}: trustDomain: ${tdError}`);
  const seen = new Set<string>();
  const workloads = parsed.data.workloads.map((w, i) => {
    const spiffeId = w.spiffeId ?? `spiffe://${trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
    const id = parseSpiffeId(spiffeId);
    if (!id.ok) throw new Error(`${file}: workloads.${i}: SPIFFE ID ${spiffeId}: ${id.error}`);
    if (seen.has(w.name)) throw new Error(`${file}: workloads.${i}: duplicate workload name ${w.name}`);
    seen.add(w.name);
    return { ...w, spiffeId };
  });
  return new WorkloadInventory(workloads);
}

export async function loadWorkloadInventory(file: string, defaultTrustDomain: string): Promise<WorkloadInventory> {
  if (file === "") return WorkloadInventory.empty();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read workloads file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new Error(`workloads file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseWorkloadInventory(value, file, defaultTrustDomain);
}
