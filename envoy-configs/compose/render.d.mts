// Types for render.mjs (kept as plain JavaScript so `npm run mesh:render` needs no TypeScript step).
export interface Workload {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  containers: string[];
  podPrefixes?: string[];
  images?: string[];
}
export declare const composeDir: string;
export declare const mesh: Readonly<{
  trustDomain: string;
  appPort: number;
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  spireSocket: string;
  spireAgentId: string;
  trustgateHost: string;
  trustgateGrpcPort: number;
  trustgateAdminPort: number;
  grpcCluster: string;
  adminCluster: string;
  wasmPath: string;
  extAuthzTimeout: string;
  revocationPath: string;
  revocationPollMs: number;
}>;
export declare function loadWorkloads(file?: string): Workload[];
export declare function spiffeId(w: Workload): string;
export declare function wasmPluginConfig(): string;
export declare function inboundHttpFilters(): Record<string, unknown>[];
export declare function sidecarBootstrap(w: Workload, all: Workload[]): Record<string, unknown>;
export declare function spireEntries(all: Workload[]): {
  entries: {
    spiffe_id: string;
    parent_id: string;
    selectors: { type: string; value: string }[];
    x509_svid_ttl: number;
    hint: string;
  }[];
};
export declare function renderAll(all?: Workload[]): Map<string, string>;
export declare function staleFiles(all?: Workload[]): string[];
