/**
 * The workload inventory in memory: the declared workloads, and their labels by SPIFFE ID. Reading and validating
 * the inventory file is workload-inventory.ts's job; worker processes get the workloads from the primary and need
 * only this.
 */

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
