/**
 * A direct mTLS client for a sidecar's inbound listener: the ingress gateway of the example, or an attacker holding
 * some certificate (foreign, self-signed, expired, stolen) or none. It verifies the server like a mesh client would
 * (bundle + expected SPIFFE ID) and reports either the HTTP response or how the connection failed.
 */
import { X509Certificate } from "node:crypto";
import https from "node:https";

export interface ClientCredentials {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface MtlsRequest {
  readonly port: number;
  /** null: connect without a client certificate. */
  readonly credentials: ClientCredentials | null;
  /** Roots to verify the server with. */
  readonly ca: readonly string[];
  /** The server's expected URI SAN (undefined: any certificate chaining to `ca`). */
  readonly expectServerId?: string;
  readonly method?: string;
  readonly path?: string;
  readonly authority?: string;
  /** Extra headers, repeats allowed. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly timeoutMs?: number;
}

export type MtlsResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly headers: Record<string, string | string[] | undefined>;
      readonly body: string;
      /** The body parsed as JSON, or undefined. */
      readonly json: unknown;
    }
  | { readonly ok: false; readonly code: string; readonly error: string };

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function mtlsRequest(r: MtlsRequest): Promise<MtlsResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = { host: r.authority ?? "service" };
    for (const [k, v] of r.headers ?? []) {
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const req = https.request(
      {
        host: "127.0.0.1",
        port: r.port,
        method: r.method ?? "GET",
        path: r.path ?? "/",
        headers,
        agent: false,
        ca: [...r.ca],
        ...(r.credentials ? { cert: r.credentials.certPem, key: r.credentials.keyPem } : {}),
        rejectUnauthorized: true,
        checkServerIdentity: (_host, cert) => {
          if (r.expectServerId === undefined) return undefined;
          const san = new X509Certificate(cert.raw).subjectAltName ?? "";
          return san.split(", ").includes(`URI:${r.expectServerId}`)
            ? undefined
            : new Error(`server is not ${r.expectServerId} (${san})`);
        },
        timeout: r.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body, json: parseJson(body) });
        });
        res.on("error", (err: NodeJS.ErrnoException) =>
          resolve({ ok: false, code: err.code ?? "", error: err.message }),
        );
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("no response in time"), { code: "ETIMEDOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? "", error: err.message }));
    req.end();
  });
}
