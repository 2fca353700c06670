/**
 * Prometheus metrics of Falco ingest and workload mapping, on the server's registry. Every label has a fixed, small
 * set of values (priorities, mapping outcomes, reasons): never a per-identity label. Label children are created up
 * front so counting an alert does not build label keys.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { FALCO_PRIORITIES, type FalcoPriority } from "../model/risk-view.js";
import { SUBJECTS, type Subject } from "./mapping/alert-mapper.js";
import { UNATTRIBUTED_REASONS, type UnattributedReason } from "./mapping/workload-mapper.js";

export type MappingLabel = "mapped" | "unattributed" | "internal";
export type IngestRejection =
  | "unauthenticated"
  | "invalid"
  | "too_large"
  | "rate_limited"
  | "rate_limited_urgent"
  | "not_configured";

const MAPPINGS: readonly MappingLabel[] = ["mapped", "unattributed", "internal"];

export class FalcoMetrics {
  private readonly alertChildren = new Map<string, { inc(n?: number): void }>();
  private readonly unattributedChildren = new Map<string, { inc(): void }>();
  private readonly attributionChildren = new Map<string, { inc(): void }>();
  private readonly rejections: Counter<"reason">;

  /** `kubernetesPods`: size of the Kubernetes mapping's pod cache; null with other mappings (no gauge then). */
  constructor(registry: Registry, kubernetesPods: (() => number) | null) {
    const registers = [registry];
    const alerts = new Counter({
      name: "trustgate_falco_alerts_total",
      help: "Falco alerts accepted, by priority and mapping outcome (mapped to a workload, unattributed, internal)",
      labelNames: ["priority", "mapping"],
      registers,
    });
    for (const p of FALCO_PRIORITIES) {
      for (const m of MAPPINGS) this.alertChildren.set(`${p}/${m}`, alerts.labels(p, m));
    }
    const unattributed = new Counter({
      name: "trustgate_falco_unattributed_alerts_total",
      help: "Alerts no workload could be found for, by reason (they add risk to nobody)",
      labelNames: ["reason"],
      registers,
    });
    for (const r of UNATTRIBUTED_REASONS) this.unattributedChildren.set(r, unattributed.labels(r));
    const attributions = new Counter({
      name: "trustgate_falco_attributions_total",
      help:
        "What alerts were about, per subject (workload: a syscall alert's container; caller and target: a k8s_audit " +
        "alert's service account and the pod it reached into) and result (mapped: risk added to that identity)",
      labelNames: ["subject", "result"],
      registers,
    });
    for (const subject of SUBJECTS) {
      for (const result of ["mapped", "unattributed"]) {
        this.attributionChildren.set(`${subject}/${result}`, attributions.labels(subject, result));
      }
    }
    this.rejections = new Counter({
      name: "trustgate_falco_ingest_rejections_total",
      help: "Requests to the Falco ingest endpoint refused, by reason",
      labelNames: ["reason"],
      registers,
    });
    if (kubernetesPods !== null) {
      new Gauge({
        name: "trustgate_falco_kubernetes_pods",
        help: "Pods in the Kubernetes mapping's watch cache (absent with other mappings)",
        registers,
        collect() {
          this.set(kubernetesPods());
        },
      });
    }
  }

  alert(priority: FalcoPriority, mapping: MappingLabel): void {
    this.alertChildren.get(`${priority}/${mapping}`)!.inc();
  }

  unattributed(reason: UnattributedReason): void {
    this.unattributedChildren.get(reason)!.inc();
  }

  attribution(subject: Subject, mapped: boolean): void {
    this.attributionChildren.get(`${subject}/${mapped ? "mapped" : "unattributed"}`)!.inc();
  }

  rejected(reason: IngestRejection): void {
    this.rejections.labels(reason).inc();
  }
}
