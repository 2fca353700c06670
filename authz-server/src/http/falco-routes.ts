/**
 * `POST /v1/falco`: Falco alert ingest (Falco http_output with `json_output: true`, Falcosidekick's webhook, or JSON
 * Lines; PUT too, for a Falcosidekick webhook set to `method: PUT`). In order: authenticate (401), body size (413), parse and validate every alert (400 naming the field,
 * nothing recorded), rate limit by source and priority class (429), then apply. The limit is decided after parsing
 * because it depends on the alerts' priorities: Critical, Alert and Emergency have a budget of their own (see
 * falco/ingest-limits.ts). The response is sent after the alerts are applied, so the next Check sees them. The same
 * handler serves the admin listener and the optional separate ingest listener.
 */

import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { FalcoMetrics } from "../falco/falco-metrics.js";
import type { FalcoIngest } from "../falco/ingest.js";
import { parseIngestBody } from "../falco/ingest-body.js";
import { type IngestLimits, isUrgent } from "../falco/ingest-limits.js";
import type { Logger } from "../observability/logger.js";
import { authenticateIngest, type IngestCredentials } from "./ingest-auth.js";
import { BodyTooLarge, type Handler, type Router, readBody, sendJson } from "./router.js";

export const FALCO_INGEST_PATH = "/v1/falco";

export interface FalcoEndpoint {
  readonly ingest: FalcoIngest;
  readonly credentials: IngestCredentials;
  readonly maxBodyBytes: number;
  readonly limits: IngestLimits;
  readonly metrics: FalcoMetrics;
  readonly logger: Logger;
  /**
   * Resolves once what was just ingested is in force wherever Checks are answered (every worker process), so that a
   * Check sent after the answer sees it. Absent: Checks are answered in this process, in force at once.
   */
  readonly settled?: () => Promise<void>;
}

export function falcoIngestHandler(endpoint: FalcoEndpoint): Handler {
  const handle = ingestRequest(endpoint);
  // Errors are handled here rather than by the listener, whose log line would carry the URL and so a ?token=.
  return async (req, res, url) => {
    try {
      await handle(req, res, url);
    } catch (err) {
      endpoint.logger.error({ event: "falco ingest failed", error: (err as Error).message }, "Falco ingest failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error while ingesting" });
      else res.destroy();
    }
  };
}

/** Whose budget a request draws on: its verified client certificate, else the address it comes from. */
function sourceOf(req: IncomingMessage): string {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted === true && socket.authorized === true) {
    const fingerprint = socket.getPeerCertificate?.()?.fingerprint256;
    if (fingerprint) return `certificate:${fingerprint}`;
  }
  return `address:${req.socket.remoteAddress ?? "unknown"}`;
}

function ingestRequest(endpoint: FalcoEndpoint): Handler {
  const { ingest, credentials, maxBodyBytes, limits, metrics, logger } = endpoint;
  let lastAuthFailureLogMs = 0;
  let lastRateLimitLogMs = 0;
  return async (req, res, url) => {
    const auth = authenticateIngest(req, url, credentials);
    if (!auth.ok) {
      metrics.rejected(auth.reason);
      const now = Date.now();
      if (now - lastAuthFailureLogMs > 10_000) {
        lastAuthFailureLogMs = now;
        logger.warn(
          { event: "falco ingest refused", reason: auth.reason, remote: req.socket.remoteAddress },
          `Falco ingest refused: ${auth.error}`,
        );
      }
      // The body is not read: sendJson closes the connection rather than reading whatever a refused client sends.
      return sendJson(res, 401, { error: auth.error }, { "www-authenticate": 'Bearer realm="trustgate-falco"' });
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        metrics.rejected("too_large");
        return sendJson(res, 413, { error: `${err.message} (falco.ingest.maxBodyBytes)` }, { connection: "close" });
      }
      throw err;
    }
    const parsed = await parseIngestBody(body);
    if (!parsed.ok) {
      metrics.rejected("invalid");
      return sendJson(res, 400, {
        error: parsed.error,
        field: parsed.field,
        ...(parsed.line !== undefined ? { line: parsed.line } : {}),
      });
    }
    let urgent = 0;
    for (const alert of parsed.alerts) if (isUrgent(alert.priority)) urgent += 1;
    const routine = parsed.alerts.length - urgent;
    if (routine > limits.maxBatch("routine") || urgent > limits.maxBatch("urgent")) {
      metrics.rejected("too_large");
      return sendJson(res, 413, {
        error: `a batch of ${routine} alerts below Critical and ${urgent} Critical or above exceeds the ingest burst (falco.ingest.burst ${limits.maxBatch("routine")}, urgentBurst ${limits.maxBatch("urgent")}): send smaller batches`,
      });
    }
    const source = sourceOf(req);
    const urgentTake = await limits.take("urgent", source, urgent);
    const routineTake = await limits.take("routine", source, routine);
    if (urgentTake.ok && routineTake.ok) {
      const summary = await ingest.ingest(parsed.alerts);
      await endpoint.settled?.();
      return sendJson(res, 200, summary);
    }

    // Whatever class still has budget gets in: a flood of Notices never keeps out the Critical alert with it.
    const refused = !urgentTake.ok ? (!routineTake.ok ? "all" : "urgent") : "routine";
    if (!urgentTake.ok) metrics.rejected("rate_limited_urgent");
    if (!routineTake.ok) metrics.rejected("rate_limited");
    const retryAfter = Math.max(
      urgentTake.ok ? 0 : urgentTake.retryAfterSeconds,
      routineTake.ok ? 0 : routineTake.retryAfterSeconds,
    );
    const now = Date.now();
    if (now - lastRateLimitLogMs > 10_000) {
      lastRateLimitLogMs = now;
      logger.warn(
        { event: "falco ingest rate limited", source, refused, urgent, routine },
        `Falco ingest rate limit reached for ${source} (${refused === "urgent" ? "falco.ingest.urgentRatePerSecond" : "falco.ingest.ratePerSecond"})`,
      );
    }
    const admitted =
      refused === "all" ? [] : parsed.alerts.filter((a) => isUrgent(a.priority) === (refused === "routine"));
    const summary = admitted.length > 0 ? await ingest.ingest(admitted) : undefined;
    if (summary !== undefined) await endpoint.settled?.();
    return sendJson(
      res,
      429,
      {
        error:
          refused === "routine"
            ? `Falco ingest rate limit exceeded for ${routine} alerts below Critical (falco.ingest.ratePerSecond / burst); the ${urgent} Critical or above were accepted`
            : refused === "urgent"
              ? `Falco ingest rate limit exceeded for ${urgent} Critical or above alerts (falco.ingest.urgentRatePerSecond / urgentBurst); the ${routine} below Critical were accepted`
              : `Falco ingest rate limit exceeded for a batch of ${parsed.alerts.length} alerts`,
        refused: refused === "all" ? parsed.alerts.length : refused === "urgent" ? urgent : routine,
        ...(summary ?? {}),
      },
      { "retry-after": String(retryAfter) },
    );
  };
}

/** The methods alerts arrive with: Falco's http_output and Falcosidekick's webhook POST; the webhook can PUT. */
export const FALCO_INGEST_METHODS = ["POST", "PUT"] as const;

export function registerFalcoRoutes(router: Router, endpoint: FalcoEndpoint): void {
  const handler = falcoIngestHandler(endpoint);
  for (const method of FALCO_INGEST_METHODS) router.on(method, FALCO_INGEST_PATH, handler);
}
