/**
 * JSON requests to the Kubernetes API with the credentials and TLS settings of a kubeconfig (`@kubernetes/client-node`
 * applies them: token, client certificate, exec plugins, CA, tls-server-name, proxies). Used for the few plain calls
 * trustgate makes (list, status patch, Lease get/create/update); watches use the library's `Watch`.
 * A non-2xx answer rejects with KubeApiError carrying the HTTP status and the Status object's reason and message.
 *
 * One agent per set of TLS settings. The client library hands out a new agent with every request's options: a new
 * TLS context (the CA parsed again) and a full handshake per call, 1.6 ms of CPU each on this machine, and a leader
 * writes the status of every policy on the thread that answers Checks. A shared agent with one context resumes TLS
 * sessions instead (1.0 ms). Connections are not kept open between requests: with idle keep-alive sockets, timers
 * stopped firing in one test process after the API server went away (not understood, so not risked). Headers, and
 * with them a refreshed token, still come from the library on every request.
 */
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { type AgentOptions, Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createSecureContext } from "node:tls";
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

/** The TLS settings a connection is made with: what decides whether an agent (and its sessions) may be reused. */
const TLS_SETTINGS = ["ca", "cert", "key", "pfx", "passphrase", "servername", "rejectUnauthorized"] as const;

/** One agent per distinct TLS settings; the last one is kept (settings change only on rotation). */
class AgentCache {
  /** A digest of the settings the current agent was made with. */
  private settings = "";
  private agent: HttpsAgent | null = null;

  for(options: AgentOptions): HttpsAgent {
    const hash = createHash("sha256");
    for (const name of TLS_SETTINGS) {
      const value = options[name];
      hash.update(`${name}=`);
      if (value !== undefined) hash.update(Buffer.isBuffer(value) ? value : JSON.stringify(value));
      hash.update("\n");
    }
    const settings = hash.digest("hex");
    if (this.agent === null || settings !== this.settings) {
      // The agent it replaces keeps serving the requests it has.
      const { ca, cert, key, pfx, passphrase, servername, rejectUnauthorized } = options;
      this.agent = new HttpsAgent({
        secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }),
        ...(servername === undefined ? {} : { servername }),
        ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
      });
      this.settings = settings;
    }
    return this.agent;
  }
}

export function kubeApi(kubeConfig: KubeConfig): KubeApi {
  const agents = new AgentCache();
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
      // Through a proxy the library's agent is the proxy's: left as it is.
      if (url.protocol === "https:" && !cluster.proxyUrl) opts.agent = agents.for(opts as AgentOptions);
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
