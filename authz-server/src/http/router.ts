/**
 * A small router for the admin HTTP server: exact paths, per-method handlers, JSON helpers, and bounded body
 * reading. Handlers are registered by the module that owns the route.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

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

/**
 * Sends a JSON answer. When the request's body has not all arrived (refused before reading it, or too large) and
 * what remains is not known to be small, the answer is the last on its connection: `Connection: close`, and the
 * connection is closed once the answer is out, rather than reading (and discarding) whatever the client goes on
 * sending — without end, for an endless chunked body. A small body of declared length is read to its end as usual,
 * so that the connection can be kept.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  const req = res.req as IncomingMessage | undefined;
  const pending = req !== undefined && bodyPending(req);
  const cut = pending && !bodySmall(req);
  if (pending && (cut || headers.connection === "close")) closeAfterAnswer(req);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
    ...(cut ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** True when the request announced a body that has not all been received. */
export function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** A pending body up to this many bytes (by Content-Length) is read and discarded to keep the connection. */
export const DRAIN_LIMIT_BYTES = 64 * 1024;

function bodySmall(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return false;
  const length = Number(req.headers["content-length"]);
  return Number.isSafeInteger(length) && length <= DRAIN_LIMIT_BYTES;
}

/** How long a connection closed under a client still sending is read (and discarded) before it is cut. */
export const LINGER_MS = 1_000;

/**
 * Once a `Connection: close` answer is written, Node destroys the socket. With the client still sending, the kernel
 * then answers with a reset, which can discard the answer before the client has read it. So this connection closes
 * as RFC 9112 §9.6 describes instead: send FIN after the answer, discard what still arrives, and destroy the socket
 * when the client closes its side or after LINGER_MS, whichever is first.
 */
function closeAfterAnswer(req: IncomingMessage): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  socket.destroySoon = () => {
    if (socket.destroyed) return;
    socket.end();
    req.removeAllListeners("data");
    req.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  };
}

export class BodyTooLarge extends Error {}

/**
 * Reads a request body up to `limit` bytes; rejects with BodyTooLarge beyond it (checked before buffering), and
 * then reads no more of it.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      // Not read at all: the answer closes the connection (sendJson).
      reject(new BodyTooLarge(`body of ${declared} bytes exceeds the ${limit} byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Reading stops here: the answer closes the connection (sendJson) instead of draining the rest.
        req.removeAllListeners("data");
        req.pause();
        reject(new BodyTooLarge(`body exceeds the ${limit} byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
