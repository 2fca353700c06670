/**
 * The request format shared by policy unit tests, `trustgate explain` and `POST /v1/explain`: a readable
 * description of one request (who calls, with which certificate facts and runtime risk, what, to which workload).
 * It is turned into a real CheckRequest by the ext_authz builder and decided by the same code as live traffic; the
 * risk it states is served by described-risk-view.ts.
 */
import { z } from "zod";
import { parsePriority } from "../model/falco-priority.js";
import { FALCO_PRIORITIES, RISK_LEVELS } from "../model/risk-view.js";
import { ownRecord } from "../util/own-record.js";

const PRIORITIES = `a Falco priority (${FALCO_PRIORITIES.join(", ")})`;

/** A Falco priority in any case, `info` included, as Falco itself reads them. */
const priority = z.string().transform((s, ctx) => {
  const parsed = parsePriority(s);
  if (parsed === null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is not ${PRIORITIES}` });
  return parsed ?? z.NEVER;
});

const alertSchema = z.union(
  [priority, z.object({ priority, rule: z.string().default("test alert"), time: z.string().default("") }).strict()],
  { error: `expected ${PRIORITIES}, or {priority, rule, time}` },
);

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
        labels: ownRecord(z.string()).optional(),
      })
      .strict()
      .default({}),
    falcoFeed: z.enum(["fresh", "stale"]).optional(),
    tcp: z.boolean().optional(),
    method: z.string().optional(),
    path: z.string().optional(),
    host: z.string().optional(),
    headers: ownRecord(z.string()).optional(),
    /** The TLS session's SNI; without it the CheckRequest carries no TLS session (connection.sni is unknown). */
    sni: z.string().optional(),
    /**
     * A verified JWT payload (the claims), as Envoy's jwt_authn filter forwards it; null: the filter's metadata is
     * forwarded but the request has no token. Omitted: no JWT metadata at all.
     */
    jwt: ownRecord(z.unknown()).nullable().optional(),
  })
  .strict();

export type RequestDescription = z.infer<typeof requestDescriptionSchema>;

export type DescribedAlert = z.infer<typeof alertSchema>;
