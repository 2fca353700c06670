/** Header handling shared by the inbound and outbound sides of the stand-in (Envoy's HTTP/1 codec and HCM). */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";

export type HeaderList = Array<[string, string]>;

/** Connection-specific headers Envoy's codec consumes instead of forwarding. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]);

/**
 * The request as Envoy's header map holds it: `:authority`, `:path`, `:method`, `:scheme` first (HTTP/1 `Host`
 * becomes `:authority`), then every other header lower-cased in arrival order, repeats kept.
 */
export function downstreamHeaders(req: IncomingMessage, scheme: string): HeaderList {
  const out: HeaderList = [
    [":authority", req.headers.host ?? ""],
    [":path", req.url ?? "/"],
    [":method", req.method ?? "GET"],
    [":scheme", scheme],
  ];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name === "host" || HOP_BY_HOP.has(name)) continue;
    out.push([name, req.rawHeaders[i + 1]!]);
  }
  return out;
}

export function getHeader(headers: HeaderList, name: string): string | undefined {
  return headers.find(([k]) => k === name)?.[1];
}

/** Envoy's HCM generates x-request-id when the request has none (generate_request_id defaults to true). */
export function ensureRequestId(headers: HeaderList): string {
  const existing = getHeader(headers, "x-request-id");
  if (existing !== undefined && existing !== "") return existing;
  const id = randomUUID();
  const index = headers.findIndex(([k]) => k === "x-request-id");
  if (index >= 0) headers[index] = ["x-request-id", id];
  else headers.push(["x-request-id", id]);
  return id;
}

/** Header list → Node's outgoing headers (pseudo-headers dropped, repeats as arrays). */
export function toOutgoing(headers: HeaderList): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of headers) {
    if (k.startsWith(":")) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** An upstream response's headers, minus connection-specific ones, for relaying downstream. */
export function relayableResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** Request headers for an upstream call (outbound side), minus connection-specific ones. */
export function relayableRequestHeaders(req: IncomingMessage): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name)) out.push([name, req.rawHeaders[i + 1]!]);
  }
  return out;
}

export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
