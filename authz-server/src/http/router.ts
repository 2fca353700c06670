/**
 * A small router for the admin HTTP server: exact paths, per-method handlers, JSON helpers, and bounded body
 * reading. Handlers are registered by the module that owns the route.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export class Router {
  private readonly routes = new Map<string, Map<string, Handler>>();

  on(method: string, path: string, handler: Handler): this {
    let methods = this.routes.get(path);
    if (!methods) {
      methods = new Map();
      this.routes.set(path, methods);
    }
    methods.set(method, handler);
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://trustgate.invalid");
    const methods = this.routes.get(url.pathname);
    if (!methods) return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
    const handler = methods.get(req.method ?? "GET") ?? (req.method === "HEAD" ? methods.get("GET") : undefined);
    if (!handler) {
      res.setHeader("allow", [...methods.keys()].join(", "));
      return sendJson(res, 405, { error: `method ${req.method} not allowed on ${url.pathname}` });
    }
    await handler(req, res, url);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export class BodyTooLarge extends Error {}

/** Reads a request body up to `limit` bytes; rejects with BodyTooLarge beyond it (checked before buffering). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      reject(new BodyTooLarge(`body of ${declared} bytes exceeds the ${limit} byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge(`body exceeds the ${limit} byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
