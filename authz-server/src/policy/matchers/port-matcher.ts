/** `ports` / `destination.port`: the connection's local (destination) port, as Envoy's RBAC compares it. */
import type { RequestModel } from "../../model/request-model.js";
import type { Matcher } from "./matcher.js";

export class PortMatcher implements Matcher {
  private readonly ports: ReadonlySet<number>;

  constructor(ports: readonly number[]) {
    this.ports = new Set(ports);
  }

  matches(model: RequestModel): boolean {
    return this.ports.has(model.destination.port);
  }
}
