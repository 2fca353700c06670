/**
 * The calls the demo makes, with the decision the example policies (policies/) intend for each. The same list runs
 * before and after the Falco alert; `underAttack` is what changes while order is at critical risk.
 */
import type { WorkloadName } from "../mesh/workloads.js";

export interface DemoCall {
  /** "ingress" is the ingress gateway (a direct mTLS client), otherwise the calling workload's app. */
  readonly from: WorkloadName | "ingress";
  readonly to: WorkloadName;
  readonly method: string;
  readonly path: string;
  readonly allowed: boolean;
  /** Intended decision while order is at critical risk (default: same as `allowed`). */
  readonly underAttack?: boolean;
}

export const TRAFFIC: readonly DemoCall[] = [
  { from: "ingress", to: "web", method: "GET", path: "/", allowed: true },
  { from: "web", to: "api", method: "GET", path: "/api/products", allowed: true },
  { from: "web", to: "database", method: "POST", path: "/query", allowed: false },
  { from: "api", to: "order", method: "POST", path: "/api/v1/orders", allowed: true },
  { from: "api", to: "cache", method: "GET", path: "/cache/products", allowed: true },
  { from: "order", to: "payment", method: "POST", path: "/api/v1/payment/42", allowed: true, underAttack: false },
  { from: "order", to: "database", method: "POST", path: "/query", allowed: true, underAttack: false },
  { from: "payment", to: "database", method: "POST", path: "/query", allowed: true },
  { from: "payment", to: "web", method: "GET", path: "/", allowed: false },
  { from: "database", to: "order", method: "GET", path: "/api/v1/orders", allowed: false },
];
