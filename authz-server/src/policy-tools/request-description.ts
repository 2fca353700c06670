/**
 * The request format shared by policy unit tests, `trustgate explain` and `POST /v1/explain`: a readable
 * description of one request (who calls, with which certificate facts and runtime risk, what, to which workload).
 * It is turned into a real CheckRequest and decided by the same code as live traffic.
 */
import { z } from "zod";
import { FILTER_FINGERPRINT_HEADER, FILTER_SUBJECT_HEADER } from "../identity/caller-identity.js";
import type { CheckRequestMessage } from "../request/check-request.js";
import { NAMESPACE_EXTENSION } from "../request/from-check-request.js";
import {
  FALCO_PRIORITIES,
  type FalcoPriority,
  NO_ALERT,
  NO_RISK,
  RISK_LEVELS,
  type RiskAssessment,
  type RiskLevel,
  type RiskView,
} from "../risk/risk-view.js";

const priority = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(FALCO_PRIORITIES));

const alertSchema = z.union([
  priority,
  z.object({ priority, rule: z.string().default("test alert"), time: z.string().default("") }).strict(),
]);

const peerFields = {
  principal: z.string().optional(),
  ip: z.string().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  risk: z.enum(RISK_LEVELS).optional(),
  alerts: z.array(alertSchema).optional(),
};

export const requestDescriptionSchema = z
  .object({
    source: z
      .object({
        ...peerFields,
        /** A PEM certificate, sent as `source.certificate` (checked like a live one). */
        certificate: z.string().optional(),
        fingerprint: z.string().optional(),
        subject: z.string().optional(),
      })
      .strict()
      .default({}),
    destination: z
      .object({
        ...peerFields,
        namespace: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .default({}),
    falcoFeed: z.enum(["fresh", "stale"]).optional(),
    tcp: z.boolean().optional(),
    method: z.string().optional(),
    path: z.string().optional(),
    host: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    sni: z.string().optional(),
  })
  .strict();

export type RequestDescription = z.infer<typeof requestDescriptionSchema>;

type Alert = z.infer<typeof alertSchema>;

function alertPriority(a: Alert): FalcoPriority {
  return typeof a === "string" ? a : a.priority;
}

function title(p: string): string {
  return p.charAt(0).toUpperCase() + p.slice(1);
}

/** Risk as the description states it; falls back to `base` for what it does not state. */
function describedRisk(level: RiskLevel | undefined, alerts: readonly Alert[] | undefined): RiskAssessment | null {
  if (level === undefined && alerts === undefined) return null;
  const list = alerts ?? [];
  let highest: FalcoPriority | typeof NO_ALERT = NO_ALERT;
  let tipping: Alert | null = null;
  for (const a of list) {
    const p = alertPriority(a);
    if (highest === NO_ALERT || FALCO_PRIORITIES.indexOf(p) < FALCO_PRIORITIES.indexOf(highest)) {
      highest = p;
      tipping = a;
    }
  }
  const explanation =
    tipping === null
      ? ""
      : typeof tipping === "string"
        ? `Falco alert (${title(tipping)})`
        : `Falco "${tipping.rule}" (${title(tipping.priority)}${tipping.time ? `, ${tipping.time}` : ""})`;
  return { level: level ?? "low", highestAlert: highest, explanation };
}

export class DescribedRiskView implements RiskView {
  constructor(
    private readonly description: RequestDescription,
    private readonly base: RiskView,
  ) {}

  assess(spiffeId: string): RiskAssessment {
    const { source, destination } = this.description;
    if (spiffeId !== "" && spiffeId === (source.principal ?? "")) {
      return describedRisk(source.risk, source.alerts) ?? this.base.assess(spiffeId);
    }
    if (spiffeId !== "" && spiffeId === (destination.principal ?? "")) {
      return describedRisk(destination.risk, destination.alerts) ?? this.base.assess(spiffeId);
    }
    return spiffeId === "" ? NO_RISK : this.base.assess(spiffeId);
  }

  feed() {
    return this.description.falcoFeed ?? this.base.feed();
  }
}

/** Builds the CheckRequest Envoy would send for the described request. */
export function toCheckRequest(d: RequestDescription): CheckRequestMessage {
  const method = d.method ?? "GET";
  const path = d.path ?? "/";
  const host = d.host ?? "service.local";
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers ?? {})) headers[k.toLowerCase()] = v;
  // Certificate facts stated without a certificate travel the way trustgate's wasm filter reports them.
  if (d.source.fingerprint !== undefined) headers[FILTER_FINGERPRINT_HEADER] = d.source.fingerprint;
  if (d.source.subject !== undefined) headers[FILTER_SUBJECT_HEADER] = d.source.subject;
  const contextExtensions: Record<string, string> = {};
  if (d.destination.namespace !== undefined) contextExtensions[NAMESPACE_EXTENSION] = d.destination.namespace;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: d.source.ip ?? "10.0.0.1", portValue: d.source.port ?? 45000 } },
        principal: d.source.principal ?? "",
        certificate: d.source.certificate ? encodeURIComponent(d.source.certificate) : "",
      },
      destination: {
        address: { socketAddress: { address: d.destination.ip ?? "10.0.0.2", portValue: d.destination.port ?? 8080 } },
        principal: d.destination.principal ?? "",
        labels: d.destination.labels ?? {},
      },
      request: d.tcp
        ? null
        : {
            http: {
              method,
              path,
              host,
              headers: { ":method": method, ":path": path, ":authority": host, ":scheme": "http", ...headers },
            },
          },
      contextExtensions,
      tlsSession: d.sni ? { sni: d.sni } : null,
    },
  };
}
