/**
 * JSON requests to the Kubernetes API with the credentials and TLS settings of a kubeconfig (`@kubernetes/client-node`
 * applies them: token, client certificate, exec plugins, CA, tls-server-name, proxies). Used for the few plain calls
 * trustgate makes (list, status patch, Lease get/create/update); watches use the library's `Watch`.
 * A non-2xx answer rejects with KubeApiError carrying the HTTP status and the Status object's reason and message.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeRequest {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  /** Default application/json; status patches use application/merge-patch+json. */
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

export interface KubeApi {
  request<T = unknown>(method: string, path: string, options?: KubeRequest): Promise<T>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** The API server limits objects to about 1.5 MB; a list page of them stays well below this. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function readResponse(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

export function kubeApi(kubeConfig: KubeConfig): KubeApi {
  return {
    async request<T>(method: string, path: string, options: KubeRequest = {}): Promise<T> {
      const cluster = kubeConfig.getCurrentCluster();
      if (!cluster) throw new Error("the kubeconfig has no current cluster");
      const url = new URL(cluster.server.replace(/\/$/, "") + path);
      for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
      const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const opts: RequestOptions & { servername?: string } = {
        method,
        headers: {
          accept: "application/json",
          ...(body ? { "content-type": options.contentType ?? "application/json", "content-length": body.length } : {}),
        },
      };
      await kubeConfig.applyToHTTPSOptions(opts);
      const send = url.protocol === "http:" ? httpRequest : httpsRequest;
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = send(url, opts, (res) => {
          readResponse(res).then((text) => resolve({ status: res.statusCode ?? 0, text }), reject);
        });
        req.setTimeout(timeoutMs, () =>
          req.destroy(new Error(`no answer from the Kubernetes API within ${timeoutMs} ms`)),
        );
        req.on("error", reject);
        req.end(body);
      });
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (status < 200 || status > 299) {
        const s = (parsed ?? {}) as { reason?: string; message?: string };
        throw new KubeApiError(
          status,
          s.reason ?? "",
          `${method} ${url.pathname}: ${status}${s.message ? ` ${s.message}` : ""}`,
        );
      }
      return parsed as T;
    },
  };
}
