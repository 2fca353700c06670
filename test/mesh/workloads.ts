/** The workloads of the e-commerce example mesh (project conventions): namespace, service account, `app` label. */

export const TRUST_DOMAIN = "cluster.local";

export const WORKLOAD_NAMES = ["web", "api", "order", "payment", "billing", "database", "cache"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadSpec {
  readonly name: WorkloadName;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly spiffeId: string;
  readonly labels: Readonly<Record<string, string>>;
}

const NAMESPACES: Record<WorkloadName, string> = {
  web: "frontend",
  api: "services",
  order: "services",
  payment: "services",
  billing: "services",
  database: "data",
  cache: "data",
};

export function spiffeIdOf(namespace: string, serviceAccount: string, trustDomain = TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export const WORKLOADS: Readonly<Record<WorkloadName, WorkloadSpec>> = Object.fromEntries(
  WORKLOAD_NAMES.map((name) => [
    name,
    {
      name,
      namespace: NAMESPACES[name],
      serviceAccount: name,
      spiffeId: spiffeIdOf(NAMESPACES[name], name),
      labels: { app: name },
    },
  ]),
) as unknown as Record<WorkloadName, WorkloadSpec>;

/** The ingress gateway: not a workload of the mesh, only a caller (web's policy allows namespace `ingress`). */
export const INGRESS_GATEWAY_ID = spiffeIdOf("ingress", "gateway");

/** The workload inventory file trustgate reads (YAML is a superset of JSON), for the Falco `static` mapping. */
export function workloadInventoryJson(): string {
  return JSON.stringify(
    {
      trustDomain: TRUST_DOMAIN,
      workloads: WORKLOAD_NAMES.map((name) => ({
        name,
        namespace: NAMESPACES[name],
        serviceAccount: name,
        labels: { app: name },
        containers: [name],
      })),
    },
    null,
    2,
  );
}
