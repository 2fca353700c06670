/**
 * The admission webhook listener (`policies.kubernetes.webhook.addr`): HTTPS only (the API server calls webhooks
 * over TLS), `POST /validate` with an AdmissionReview, answered by kube/admission-review.ts. The serving
 * certificate is re-read every `reloadIntervalMs` and swapped in when it changed, so a certificate rotated by
 * cert-manager (a new Secret mounted into the pod) is served without a restart.
 */
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { type ReviewOptions, reviewAdmission } from "../kube/admission-review.js";
import type { Logger } from "../observability/logger.js";
import { close, listen } from "./listen.js";
import { BodyTooLarge, Router, readBody, sendJson } from "./router.js";

export const WEBHOOK_PATH = "/validate";

export interface WebhookTls {
  readonly certFile: string;
  readonly keyFile: string;
}

/** An AdmissionReview carries the object and, for updates, the old one; each is at most about 1.5 MB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class WebhookListener {
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private served = "";
  readonly stats = { reviews: 0, denied: 0, certificateReloads: 0 };

  constructor(
    private readonly review: ReviewOptions,
    private readonly logger: Logger,
    private readonly reloadIntervalMs = 60_000,
  ) {}

  private async readTls(tls: WebhookTls): Promise<{ cert: Buffer; key: Buffer }> {
    const read = (file: string, what: string) =>
      readFile(file).catch((err: Error) => {
        throw new Error(`cannot read policies.kubernetes.webhook.${what} ${file}: ${err.message}`);
      });
    const [cert, key] = await Promise.all([read(tls.certFile, "certFile"), read(tls.keyFile, "keyFile")]);
    return { cert, key };
  }

  async listen(address: string, tls: WebhookTls): Promise<AddressInfo | string> {
    const router = new Router().on("POST", WEBHOOK_PATH, async (req, res) => {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
      } catch (err) {
        return sendJson(res, err instanceof BodyTooLarge ? 413 : 400, { error: (err as Error).message });
      }
      const result = reviewAdmission(body, this.review);
      if (!result.ok) return sendJson(res, 400, { error: result.error });
      const { response } = result.review;
      this.stats.reviews += 1;
      if (!response.allowed) this.stats.denied += 1;
      this.logger.info(
        {
          event: "admission review",
          uid: response.uid,
          allowed: response.allowed,
          message: response.status?.message,
          warnings: response.warnings?.length ?? 0,
        },
        `TrustgatePolicy admission ${response.allowed ? "allowed" : "denied"}`,
      );
      sendJson(res, 200, result.review);
    });
    const initial = await this.readTls(tls);
    this.served = `${initial.cert.toString("base64")}.${initial.key.toString("base64")}`;
    const server = createServer({ ...initial, minVersion: "TLSv1.2" }, (req, res) => {
      router.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, "admission review failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
    });
    server.requestTimeout = 10_000;
    this.server = server as unknown as Server;
    this.timer = setInterval(() => void this.reloadTls(server, tls), this.reloadIntervalMs);
    this.timer.unref();
    return listen(this.server, address, "admission webhook");
  }

  private async reloadTls(server: ReturnType<typeof createServer>, tls: WebhookTls): Promise<void> {
    try {
      const next = await this.readTls(tls);
      const fingerprint = `${next.cert.toString("base64")}.${next.key.toString("base64")}`;
      if (fingerprint === this.served) return;
      server.setSecureContext({ ...next, minVersion: "TLSv1.2" });
      this.served = fingerprint;
      this.stats.certificateReloads += 1;
      this.logger.info({ event: "webhook certificate reloaded" }, "admission webhook serving certificate reloaded");
    } catch (err) {
      // Mid-rotation the two files can disagree; the next interval tries again, the old certificate stays.
      this.logger.warn(
        { event: "webhook certificate reload failed", error: (err as Error).message },
        "could not reload the admission webhook certificate; still serving the previous one",
      );
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.server) await close(this.server);
  }
}
