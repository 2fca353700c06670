/**
 * `POST /v1/falco`: Falco alert ingest (Falco http_output with `json_output: true`, Falcosidekick's webhook, or JSON
 * Lines). In order: authenticate (401), rate limit (429), body size (413), parse and validate every alert (400 naming
 * the field, nothing recorded), then apply. The response is sent after the alerts are applied, so the next Check
 * sees them. The same handler serves the admin listener and the optional separate ingest listener.
 */

import type { FalcoMetrics } from "../falco/falco-metrics.js";
import type { FalcoIngest } from "../falco/ingest.js";
import { parseIngestBody } from "../falco/ingest-body.js";
import type { TokenBucket } from "../falco/token-bucket.js";
import type { Logger } from "../observability/logger.js";
import { authenticateIngest, type IngestCredentials } from "./ingest-auth.js";
import { BodyTooLarge, type Handler, type Router, readBody, sendJson } from "./router.js";

export const FALCO_INGEST_PATH = "/v1/falco";

export interface FalcoEndpoint {
  readonly ingest: FalcoIngest;
  readonly credentials: IngestCredentials;
  readonly maxBodyBytes: number;
  readonly bucket: TokenBucket;
  readonly burst: number;
  readonly metrics: FalcoMetrics;
  readonly logger: Logger;
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

function ingestRequest(endpoint: FalcoEndpoint): Handler {
  const { ingest, credentials, maxBodyBytes, bucket, burst, metrics, logger } = endpoint;
  let lastAuthFailureLogMs = 0;
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
      req.resume();
      return sendJson(res, 401, { error: auth.error }, { "www-authenticate": 'Bearer realm="trustgate-falco"' });
    }
    if (!bucket.hasAny()) {
      metrics.rejected("rate_limited");
      req.resume();
      return sendJson(
        res,
        429,
        { error: "Falco ingest rate limit exceeded (falco.ingest.ratePerSecond / burst)" },
        { "retry-after": String(bucket.secondsUntil(1)) },
      );
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
    const count = parsed.alerts.length;
    if (count > burst) {
      metrics.rejected("too_large");
      return sendJson(res, 413, {
        error: `a batch of ${count} alerts exceeds the ingest burst of ${burst} (falco.ingest.burst): send smaller batches`,
      });
    }
    if (!bucket.take(count)) {
      metrics.rejected("rate_limited");
      return sendJson(
        res,
        429,
        { error: `Falco ingest rate limit exceeded for a batch of ${count} alerts` },
        { "retry-after": String(bucket.secondsUntil(count)) },
      );
    }
    const summary = await ingest.ingest(parsed.alerts);
    sendJson(res, 200, summary);
  };
}

export function registerFalcoRoutes(router: Router, endpoint: FalcoEndpoint): void {
  router.on("POST", FALCO_INGEST_PATH, falcoIngestHandler(endpoint));
}
